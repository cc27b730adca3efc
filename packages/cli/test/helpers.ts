import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { LAYOUT } from '@tdvc/core';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TDVC_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tdvc.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `tdvc` command (compiled CLI) in `cwd`. */
export function tdvc(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TDVC_BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the real `git` binary; throws on failure. */
export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function tempDir(prefix = 'tdvc-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A new Git repository with tdvc initialised in it (real `git init`, real `tdvc init`). */
export async function makeRepo(): Promise<{ root: string; cleanup: () => void }> {
  const { path, cleanup } = tempDir();
  git(path, 'init', '-q', '-b', 'main');
  const r = await tdvc(path, ['init']);
  if (r.code !== 0) throw new Error(`tdvc init failed: ${r.stderr}`);
  return { root: path, cleanup };
}

/** Writes files given as { 'rel/path': content }. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

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

