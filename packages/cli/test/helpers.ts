import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { LAYOUT } from '@tdvc/core';
import { join } from 'node:path';
import type { RunResult } from '@tdvc/test-utils';

// the helpers every package's tests share live in @tdvc/test-utils; this file adds the CLI's own
export { TDVC_BIN, tdvc, git, tempDir, makeRepo, writeTree, readTreeSync, type RunResult } from '@tdvc/test-utils';

/**
 * Everything under `root`: type, mode and content hash, to prove a command changed nothing. Left
 * out: .git, and cache bookkeeping beside the objects (e.g. .tdvc/cache/projects) — the objects
 * themselves (.tdvc/cache/b3v1) are compared.
 */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      if (rel === '' && name === '.git') continue;
      if (rel === '.tdvc/cache' && name !== LAYOUT) continue;
      const a = join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(a);
      if (st.isSymbolicLink()) out.set(r, `link ${readlinkSync(a)}`);
      else if (st.isDirectory()) {
        if (r !== '.tdvc/cache') out.set(r, `dir ${(st.mode & 0o7777).toString(8)}`);
        walk(a, r);
      } else out.set(r, `file ${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(a)).digest('hex')}`);
    }
  };
  walk(root, '');
  return out;
}

/** One `error:` line naming what matches `names`, no stack trace, no internal error. */
export function assertOneClearError(r: RunResult, names: RegExp, message?: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure; stdout: ${r.stdout}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith('error:'));
  assert.equal(errors.length, 1, `exactly one error message, got:\n${r.stderr}`);
  assert.match(errors[0]!, names, `the error names the path:\n${r.stderr}`);
  if (message) assert.match(errors[0]!, message);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `no stack trace:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|TDVC_DEBUG/, r.stderr);
}

