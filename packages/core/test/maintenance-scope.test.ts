import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStaleTemp, isTempName, removeRegularFile, removeStaleTemp, removeStaleTempSync, uniqueTempName } from '../src/util/fs.js';

const HOST = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 24 * 3600_000);

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

test('isTempName accepts exactly what uniqueTempName() makes', () => {
  assert.equal(isTempName(uniqueTempName()), true);
  assert.equal(isTempName('.tmp-otherhost-4242-0123456789ab'), true);
  assert.equal(isTempName('.tmp-my-host.local-1-abcdefabcdef'), true);
  for (const n of ['.tmp-important', '.tmp-notes', '.tmp-host-1-abcdef', '.tmp-host-1-ABCDEFABCDEF', '.tmp-host-x-abcdefabcdef', 'x.tmp-host-1-abcdefabcdef', 'scratch-add-host-1-abcdefabcdef', '.tmp-host-1-abcdefabcdef0', '.tmp--1-abcdefabcdef', '.tmp-h/x-1-abcdefabcdef']) {
    assert.equal(isTempName(n), false, n);
  }
});

test('isStaleTemp: a name that is not a temp name is never stale, however old or whoever "owns" it', () => {
  const old = Date.now() - 2 * 24 * 3600_000;
  assert.equal(isStaleTemp('.tmp-notes', old), false);
  assert.equal(isStaleTemp(`.tmp-${HOST}-${deadPid()}-notes`, undefined), false);
  assert.equal(isStaleTemp('.tmp-otherhost-4242-0123456789ab', old), true);
  assert.equal(isStaleTemp('.tmp-otherhost-4242-0123456789ab', Date.now()), false);
  assert.equal(isStaleTemp(`.tmp-${HOST}-${deadPid()}-0123456789ab`, undefined), true);
});

test('removeStaleTemp removes stale temp files only: never a folder, never through a symlink', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-scope-'));
  try {
    const dead = deadPid();
    const file = join(dir, `.tmp-${HOST}-${dead}-000000000001`);
    const folder = join(dir, `.tmp-${HOST}-${dead}-000000000002`);
    const link = join(dir, `.tmp-${HOST}-${dead}-000000000003`);
    const oldFolder = join(dir, '.tmp-otherhost-1-000000000004');
    const notes = join(dir, '.tmp-notes');
    const target = join(dir, 'precious');
    writeFileSync(file, 'x');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'sub', 'f'), 'keep');
    mkdirSync(oldFolder);
    writeFileSync(target, 'keep');
    symlinkSync(target, link);
    writeFileSync(notes, 'keep');
    for (const p of [oldFolder, notes]) utimesSync(p, TWO_DAYS_AGO, TWO_DAYS_AGO);
    assert.equal(await removeStaleTemp(file), true);
    assert.equal(existsSync(file), false);
    assert.equal(await removeStaleTemp(folder), false);
    assert.equal(removeStaleTempSync(folder, undefined), false);
    assert.equal(await removeStaleTemp(oldFolder), false);
    assert.equal(await removeStaleTemp(link), false);
    assert.equal(await removeStaleTemp(notes), false);
    assert.equal(removeStaleTempSync(notes), false);
    for (const p of [join(folder, 'sub', 'f'), oldFolder, target, notes]) assert.equal(existsSync(p), true, p);
    assert.equal(lstatSync(link).isSymbolicLink(), true);

    assert.equal(await removeRegularFile(join(folder, 'sub')), 'skipped');
    assert.equal(await removeRegularFile(link), 'skipped');
    assert.equal(await removeRegularFile(join(dir, 'absent')), 'gone');
    assert.equal(await removeRegularFile(notes), 'removed');
    assert.equal(existsSync(join(folder, 'sub', 'f')), true);
    assert.equal(existsSync(target), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
