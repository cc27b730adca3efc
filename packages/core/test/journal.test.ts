import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearJournal, loadPartialCheck, writeJournal } from '../src/checkout/journal.js';

test('journal: a dead checkout vouches for short, newer files it listed; a live one, other files and bigger files do not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-journal-'));
  try {
    assert.equal(loadPartialCheck(dir, 'data')('x', 1, Date.now()), false, 'no journal: nothing is a leftover');
    await writeJournal(dir, 'data', [
      { path: 'x', size: 100 },
      { path: 'y', size: 10 },
    ]);
    const file = join(dir, readdirSync(dir)[0]!);
    const j = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
    assert.equal(j.pid, process.pid);
    // our own journal stands for a checkout that failed in this process: treated as finished
    const now = Date.now();
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now), true);
    assert.equal(loadPartialCheck(dir, 'data')('x', 101, now), false, 'bigger than planned: not ours');
    assert.equal(loadPartialCheck(dir, 'data')('z', 1, now), false, 'not listed');
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now - 60_000), false, 'older than the checkout');
    // a journal of a live process (a checkout still running) vouches for nothing
    writeFileSync(file, JSON.stringify({ ...j, pid: 1 }));
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now), false, 'pid 1 is alive');
    await clearJournal(dir, 'data');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
