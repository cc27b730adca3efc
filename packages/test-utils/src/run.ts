/**
 * The helpers every package's tests use: temp folders, the real `tdvc` command (the compiled CLI)
 * and the real `git` binary, a fresh repository, a tree of files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI (packages/cli/bin/tdvc.js), whichever package's tests run it. */
export const TDVC_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'bin', 'tdvc.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where the user's and the machine's config files are, for every test that does not say: nowhere. */
const NO_CONFIG = join(tmpdir(), 'tdvc-tests-have-no-global-config', 'config');

/**
 * Runs the real `tdvc` command in `cwd`. The developer's own ~/.config/tdvc/config and
 * /etc/tdvc/config are not read (a global cache.dir would send every test's objects there).
 */
export function tdvc(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const isolated = { ...process.env, TDVC_GLOBAL_CONFIG: NO_CONFIG, TDVC_SYSTEM_CONFIG: NO_CONFIG, ...env };
    const child = spawn(process.execPath, [TDVC_BIN, ...args], { cwd, env: isolated, stdio: ['ignore', 'pipe', 'pipe'] });
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
