import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { isOwnedByDeadLocalProcess, tempNameOwner, uniqueTempName } from '../src/util/fs.js';

const HOST = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('temp names: the owner is parsed back, also for prefixes containing a dash', () => {
  for (const prefix of ['.tmp', 'scratch-add', 'scratch-checkout']) {
    const name = uniqueTempName(prefix);
    assert.ok(name.startsWith(prefix + '-'));
    assert.deepEqual(tempNameOwner(name, prefix), { host: HOST, pid: process.pid }, name);
  }
  assert.deepEqual(tempNameOwner(uniqueTempName()), { host: HOST, pid: process.pid });
  assert.deepEqual(tempNameOwner('scratch-add-my-host-12-abcdefabcdef', 'scratch-add'), { host: 'my-host', pid: 12 });
  assert.equal(tempNameOwner('scratch-add-my-host-12-abcdefabcdef', 'scratch-checkout'), undefined);
  assert.equal(tempNameOwner('not-a-temp-name', 'not'), undefined);
});

test('temp names: only a dead process of this host owns a stale scratch folder', () => {
  const dead = deadPid();
  for (const prefix of ['.tmp', 'scratch-checkout']) {
    assert.equal(isOwnedByDeadLocalProcess(`${prefix}-${HOST}-${dead}-abcdefabcdef`, prefix), true, `${prefix}: dead local pid`);
    assert.equal(isOwnedByDeadLocalProcess(uniqueTempName(prefix), prefix), false, `${prefix}: this very process`);
    assert.equal(isOwnedByDeadLocalProcess(`${prefix}-${HOST}-1-abcdefabcdef`, prefix), false, `${prefix}: a live pid (init)`);
    assert.equal(isOwnedByDeadLocalProcess(`${prefix}-other${HOST}-${dead}-abcdefabcdef`, prefix), false, `${prefix}: another host`);
    assert.equal(isOwnedByDeadLocalProcess(`${prefix}-x-${HOST}-${dead}-abcdefabcdef`, prefix), false, `${prefix}: host "x-${HOST}" is another host`);
  }
});
