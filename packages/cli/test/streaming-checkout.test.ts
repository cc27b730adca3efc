// checkout plans by joining the target tree and the workspace scan as sorted streams, spools its
// changes to the journal and carries them out a window at a time. What it writes must not depend on
// where the windows end: a folder that becomes a file (its removals spanning windows) and a file
// that becomes a folder, changes at window edges, executable bits, sub-paths whose ranges overlap;
// and the stat index it leaves (spilled a window at a time) must vouch for exactly what is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SCAN_WINDOW, compareUtf8 } from '@tdvc/core';
import { makeRepo, tdvc, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Every file under `dir`: relative path → executable bit and content hash (folders implied). */
function contents(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.set(r, `${st.mode & 0o100 ? 'x' : '-'} ${createHash('sha256').update(readFileSync(join(dir, r))).digest('hex').slice(0, 16)}`);
    }
  };
  walk('');
  return out;
}

function write(root: string, rel: string, text: string): void {
  mkdirSync(join(root, 'data', rel, '..'), { recursive: true });
  writeFileSync(join(root, 'data', rel), text);
}

interface AddJson {
  added: Array<{ files: number; hashed: number }>;
}

test('checkout across many plan windows: folder to file and back, window edges, modes, overlapping sub-paths; the index it leaves is exact', { timeout: 600_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const data = join(root, 'data');
    // v1: a folder `blk` of more than a window (its removal spans windows), a file `flip`, and two windows more
    const spread = SCAN_WINDOW * 2;
    for (let i = 0; i < SCAN_WINDOW + 700; i++) write(root, `blk/f${i}`, `blk ${i}\n`);
    for (let i = 0; i < spread; i++) write(root, `d${String(i % 29).padStart(2, '0')}/f${i}`, `v1 ${i}\n`);
    write(root, 'flip', 'a file in v1\n');
    write(root, 'blk.txt', 'next to blk\n');
    write(root, 'd0', 'a file named like a folder prefix\n');
    await ok(root, ['add', 'data']);
    const v1 = contents(data);
    const p1 = readFileSync(join(root, 'data.tdvc'), 'utf8');

    // v2: blk a file, flip a folder, files changed at the window edges, some deleted, some executable
    rmSync(join(data, 'blk'), { recursive: true });
    write(root, 'blk', 'a file in v2\n');
    rmSync(join(data, 'flip'));
    for (let i = 0; i < 50; i++) write(root, `flip/g${i}`, `flip ${i}\n`);
    const order = [...v1.keys()].filter((p) => p.startsWith('d')).sort(compareUtf8);
    for (const i of [0, 1, SCAN_WINDOW - 1, SCAN_WINDOW, SCAN_WINDOW + 1, order.length - 1]) write(root, order[i]!, `v2 ${order[i]}\n`);
    for (const i of [2, SCAN_WINDOW + 2]) rmSync(join(data, order[i]!));
    for (const i of [3, SCAN_WINDOW - 2]) chmodSync(join(data, order[i]!), 0o755);
    await ok(root, ['add', 'data']);
    const v2 = contents(data);
    const p2 = readFileSync(join(root, 'data.tdvc'), 'utf8');
    assert.notDeepEqual(v1, v2);

    const checkoutTo = async (pointer: string, want: Map<string, string>, label: string): Promise<void> => {
      writeFileSync(join(root, 'data.tdvc'), pointer);
      await ok(root, ['checkout']);
      assert.deepEqual(contents(data), want, `${label}: the workspace is that version, file by file`);
      const st = JSON.parse((await ok(root, ['status', '--json'])).stdout) as { clean: boolean };
      assert.equal(st.clean, true, `${label}: status is clean`);
      const again = (JSON.parse((await ok(root, ['add', 'data', '--json'])).stdout) as AddJson).added[0]!;
      assert.equal(again.hashed, 0, `${label}: the stat index vouches for every file the checkout wrote`);
      assert.equal(again.files, want.size);
      assert.equal(readFileSync(join(root, 'data.tdvc'), 'utf8'), pointer, `${label}: add finds the same version`);
    };
    await checkoutTo(p1, v1, 'v2 → v1');
    await checkoutTo(p2, v2, 'v1 → v2');
    rmSync(data, { recursive: true });
    await checkoutTo(p1, v1, 'nothing → v1');

    // sub-paths whose ranges overlap or nest (d0 the file, d00 the folder and a file in it): only they change
    await checkoutTo(p2, v2, 'v1 → v2 again');
    writeFileSync(join(root, 'data.tdvc'), p1);
    await ok(root, ['checkout', 'data/d00', 'data/d00/f0', 'data/d0', 'data/blk']);
    const inScope = (p: string): boolean => ['d00', 'd0', 'blk'].some((s) => p === s || p.startsWith(`${s}/`));
    const want = new Map([...v2].filter(([p]) => !inScope(p)).concat([...v1].filter(([p]) => inScope(p))));
    assert.deepEqual(contents(data), want, 'sub-path checkout: those paths as in v1, the rest as in v2');
  } finally {
    cleanup();
  }
});

test('a link to a FIFO planted where the journal and the stat index live is not followed: status and checkout finish', { timeout: 60_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    write(root, 'a', 'a\n');
    await ok(root, ['add', 'data']);
    const key = createHash('sha1').update('data').digest('hex').slice(0, 16);
    const fifoDir = mkdtempSync(join(tmpdir(), 'tdvc-fifo-'));
    const fifo = join(fifoDir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    try {
      for (const [dir, name] of [['journal', `${key}.journal`], ['index', `${key}.idx`]] as const) {
        mkdirSync(join(root, '.tdvc', 'tmp', dir), { recursive: true });
        rmSync(join(root, '.tdvc', 'tmp', dir, name), { force: true });
        symlinkSync(fifo, join(root, '.tdvc', 'tmp', dir, name));
      }
      // opening either for reading would block forever on the FIFO
      const st = JSON.parse((await ok(root, ['status', '--json'])).stdout) as { clean: boolean };
      assert.equal(st.clean, true);
      rmSync(join(root, 'data'), { recursive: true });
      await ok(root, ['checkout']);
      assert.deepEqual(contents(join(root, 'data')), new Map([['a', contents(join(root, 'data')).get('a')!]]));
      assert.equal(readFileSync(join(root, 'data', 'a'), 'utf8'), 'a\n');
    } finally {
      rmSync(fifoDir, { recursive: true, force: true });
    }
  } finally {
    cleanup();
  }
});
