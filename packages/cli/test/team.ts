/**
 * A team for shared-cache tests: a fresh Unix group and two users in it (root only), and tdvc run
 * as one of them under `umask 077`, optionally as if on another machine (its own host name, in a
 * UTS namespace of its own). Used by the local two-user tests and the CephFS team scenario.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { git, TDVC_BIN, writeTree, type RunResult } from './helpers.js';

export interface User {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface Team {
  group: string;
  gid: number;
  users: User[];
  /** removes the users and the group (their homes are inside the caller's folder) */
  remove(): void;
}

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const haveUserTools = isRoot && spawnSync('sh', ['-c', 'command -v useradd && command -v groupadd'], { stdio: 'ignore' }).status === 0;

/** Why a team cannot be made here, or false. */
export const teamSkipReason: string | false = !isRoot ? 'needs root on Linux to create a group and two users' : !haveUserTools ? 'needs useradd/groupadd' : false;

export function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A new group and `n` users in it, each with a home folder (0755) under `workDir`. */
export function createTeam(workDir: string, n = 2): Team {
  const suffix = randomBytes(3).toString('hex');
  const group = `tdvcg${suffix}`;
  const created: string[] = [];
  sh('groupadd', group);
  const remove = (): void => {
    for (const u of created) spawnSync('userdel', [u]);
    spawnSync('groupdel', [group]);
  };
  try {
    const gid = Number(sh('getent', 'group', group).split(':')[2]);
    const users: User[] = [];
    for (let i = 1; i <= n; i++) {
      const name = `tdvcu${i}${suffix}`;
      sh('useradd', '-M', '-g', group, '-s', '/bin/sh', name);
      created.push(name);
      const uid = Number(sh('id', '-u', name).trim());
      const home = join(workDir, `home-${name}`);
      mkdirSync(home);
      chownSync(home, uid, gid);
      chmodSync(home, 0o755);
      // git refuses another user's repository ("dubious ownership"); -c safe.directory does not
      // reach a local clone's upload-pack, a global config of the user's does
      writeFileSync(join(home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
      users.push({ name, uid, gid, home });
    }
    return { group, gid, users, remove };
  } catch (err) {
    remove();
    throw err;
  }
}

export interface RunAsOptions {
  /** run as if on another machine: this host name, in a UTS namespace of its own */
  host?: string;
  env?: Record<string, string>;
}

export interface RunningAs {
  done: Promise<RunResult>;
  pid: number;
  kill: () => void;
  exited: () => boolean;
}

/** Runs tdvc as `user` under `umask 077` (the process gets only the user's uid and the team gid). */
export function tdvcAs(user: User, cwd: string, args: string[], opts: RunAsOptions = {}): RunningAs {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: user.home, USER: user.name, LOGNAME: user.name, ...opts.env };
  // another machine: a new UTS namespace (root), its host name set, then the user's ids; the
  // final exec keeps one pid from here to node, so killing `pid` kills tdvc itself
  const child = opts.host
    ? spawn(
        'unshare',
        [
          '--uts',
          'sh',
          '-c',
          'hostname "$1" && u=$2 && g=$3 && shift 3 && umask 077 && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"',
          'sh',
          opts.host,
          String(user.uid),
          String(user.gid),
          process.execPath,
          TDVC_BIN,
          ...args,
        ],
        { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    : spawn('sh', ['-c', 'umask 077; exec "$@"', 'sh', process.execPath, TDVC_BIN, ...args], { cwd, uid: user.uid, gid: user.gid, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code: code ?? (signal === 'SIGKILL' ? -9 : -1), stdout, stderr });
    });
  });
  return { done, pid: child.pid!, kill: () => void child.kill('SIGKILL'), exited: () => exited };
}

export async function runAs(user: User, cwd: string, args: string[], opts: RunAsOptions = {}): Promise<RunResult> {
  return tdvcAs(user, cwd, args, opts).done;
}

export async function okAs(user: User, cwd: string, args: string[], opts: RunAsOptions = {}): Promise<RunResult> {
  const r = await runAs(user, cwd, args, opts);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} as ${user.name}${opts.host ? ` on ${opts.host}` : ''} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** A shared cache folder as an admin would set it up: group-owned by the team, setgid, 2775. */
export function makeSharedFolder(dir: string, gid: number): string {
  mkdirSync(dir);
  chownSync(dir, 0, gid);
  chmodSync(dir, 0o2775);
  return dir;
}

/**
 * A Git repository owned by `user` at `root`, with tdvc initialised by that user (umask 077, so
 * `.tdvc/` is private to them), using `cache` as a group-shared cache, and the given files in it.
 */
export async function makeUserRepo(user: User, root: string, cache: string, files: Record<string, string | Buffer>, opts: RunAsOptions = {}): Promise<string> {
  mkdirSync(root);
  git(root, 'init', '-q', '-b', 'main');
  writeTree(root, files);
  sh('chown', '-R', `${user.uid}:${user.gid}`, root);
  await okAs(user, root, ['init'], opts);
  await okAs(user, root, ['cache', 'dir', cache], opts);
  await okAs(user, root, ['config', 'cache.shared', 'group'], opts);
  return root;
}

/** Runs the real `git` as `user` (any repository owner accepted); throws on failure. */
export function gitAs(user: User, cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    uid: user.uid,
    gid: user.gid,
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: user.home,
      GIT_AUTHOR_NAME: user.name,
      GIT_AUTHOR_EMAIL: `${user.name}@example.com`,
      GIT_COMMITTER_NAME: user.name,
      GIT_COMMITTER_EMAIL: `${user.name}@example.com`,
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} as ${user.name} in ${cwd} failed: ${r.stderr}`);
  return r.stdout;
}
