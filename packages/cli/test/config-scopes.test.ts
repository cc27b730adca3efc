/**
 * Config scopes: system < global < project < local, `--show-origin`, the scope options, and what
 * a cloned project may not decide for the user. Every test points TDVC_SYSTEM_CONFIG and
 * TDVC_GLOBAL_CONFIG (or XDG_CONFIG_HOME) into its temp folder: the real ~/.config and /etc are
 * never touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneClearError, makeRepo, tdvc, TDVC_BIN, tempDir, writeTree, type RunResult } from './helpers.js';

async function setup(): Promise<{ root: string; home: string; env: Record<string, string>; sys: string; glob: string; proj: string; local: string; cleanup: () => void }> {
  const repo = await makeRepo();
  const home = tempDir('tdvc-scopes-');
  const sys = join(home.path, 'etc', 'tdvc', 'config');
  const glob = join(home.path, 'home', '.config', 'tdvc', 'config');
  return {
    root: repo.root,
    home: home.path,
    env: { TDVC_SYSTEM_CONFIG: sys, TDVC_GLOBAL_CONFIG: glob },
    sys,
    glob,
    proj: join(repo.root, '.tdvc', 'config'),
    local: join(repo.root, '.tdvc', 'config.local'),
    cleanup: () => {
      repo.cleanup();
      home.cleanup();
    },
  };
}

function write(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

function ok(r: RunResult): RunResult {
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

test('precedence: system < global < project < local, and --show-origin names the file of each value', async () => {
  const s = await setup();
  try {
    write(s.sys, '[core]\n    jobs = 1\n[cache]\n    type = copy\n');
    write(s.glob, '[core]\n    jobs = 2\n[pull]\n    move_large_files = false\n');
    write(s.proj, '[core]\n    jobs = 3\n');
    write(s.local, '[core]\n    jobs = 4\n');
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs'], s.env)).stdout, '4\n');
    const listed = ok(await tdvc(s.root, ['config', '--list', '--show-origin'], s.env)).stdout;
    assert.equal(
      listed,
      `file:${s.sys}\tcache.type=copy\nfile:${s.local}\tcore.jobs=4\nfile:${s.glob}\tpull.move_large_files=false\n`,
    );
    const json = JSON.parse(ok(await tdvc(s.root, ['config', '--list', '--show-origin', '--json'], s.env)).stdout);
    assert.deepEqual(json[1], { key: 'core.jobs', value: '4', scope: 'local', file: s.local });
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs', '--show-origin'], s.env)).stdout, `file:${s.local}\t4\n`);
    // each scope removed in turn uncovers the one below
    ok(await tdvc(s.root, ['config', '--local', '--unset', 'core.jobs'], s.env));
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs'], s.env)).stdout, '3\n');
    ok(await tdvc(s.root, ['config', '--project', '--unset', 'core.jobs'], s.env));
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs'], s.env)).stdout, '2\n');
    ok(await tdvc(s.root, ['config', '--global', '--unset', 'core.jobs'], s.env));
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs'], s.env)).stdout, '1\n');
    // the merged value is what commands use: a bad system core.jobs stops a push, naming the system file
    write(s.sys, '[core]\n    jobs = lots\n');
    ok(await tdvc(s.root, ['remote', 'add', '-d', 'r', join(s.home, 'remote-not-used')], s.env));
    const push = await tdvc(s.root, ['push'], s.env);
    assertOneClearError(push, new RegExp(`core\\.jobs in ${s.sys.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(push.stderr, /tdvc config --system core\.jobs N/);
  } finally {
    s.cleanup();
  }
});

test('each scope option writes and reads its own file; two scopes at once are refused', async () => {
  const s = await setup();
  try {
    for (const [flag, file, value] of [['--system', s.sys, '5'], ['--global', s.glob, '6'], ['--project', s.proj, '7'], ['--local', s.local, '8']] as const) {
      ok(await tdvc(s.root, ['config', flag, 'core.jobs', value], s.env));
      assert.match(readFileSync(file, 'utf8'), new RegExp(`jobs = ${value}`), file);
      assert.equal(ok(await tdvc(s.root, ['config', flag, 'core.jobs'], s.env)).stdout, `${value}\n`);
      assert.equal(ok(await tdvc(s.root, ['config', flag, '--list'], s.env)).stdout, `core.jobs=${value}\n`);
    }
    // each scope read alone, while the merged value is the local one
    assert.equal(ok(await tdvc(s.root, ['config', 'core.jobs'], s.env)).stdout, '8\n');
    assert.equal(ok(await tdvc(s.root, ['config', '--project', 'core.jobs'], s.env)).stdout, '7\n');
    assert.equal(ok(await tdvc(s.root, ['config', '--system', '--list', '--show-origin'], s.env)).stdout, `file:${s.sys}\tcore.jobs=5\n`);
    // without an option, writes go to the project's file, as before
    ok(await tdvc(s.root, ['config', 'cache.type', 'copy'], s.env));
    assert.match(readFileSync(s.proj, 'utf8'), /type = copy/);
    const both = await tdvc(s.root, ['config', '--global', '--local', 'core.jobs', '9'], s.env);
    assertOneClearError(both, /--global and --local/);
    assert.equal(both.code, 2);
    // unset in a scope that lacks the key: an error naming that scope's file and where the value is
    const unset = await tdvc(s.root, ['config', '--global', '--unset', 'cache.type'], s.env);
    assertOneClearError(unset, new RegExp(`cache\\.type is not set in the global config \\(${s.glob.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
    assert.match(unset.stderr, /tdvc config --unset cache\.type/);
    const missing = await tdvc(s.root, ['config', '--system', 'cache.type'], s.env);
    assertOneClearError(missing, /cache\.type is not set in the system config/);
  } finally {
    s.cleanup();
  }
});

test('outside a repository: --global and --system work, XDG_CONFIG_HOME is honoured, the project scopes are refused', async () => {
  const dir = tempDir('tdvc-noscope-');
  try {
    // HOME too: should XDG_CONFIG_HOME be ignored, ~/.config must still be this test's
    const env = { TDVC_SYSTEM_CONFIG: join(dir.path, 'sys'), XDG_CONFIG_HOME: join(dir.path, 'xdg'), TDVC_GLOBAL_CONFIG: '', HOME: dir.path };
    ok(await tdvc(dir.path, ['config', '--global', 'core.remote', 'store'], env));
    assert.match(readFileSync(join(dir.path, 'xdg', 'tdvc', 'config'), 'utf8'), /\[core\]\n {4}remote = store\n/);
    ok(await tdvc(dir.path, ['cache', 'dir', '--global', 'shared-cache'], env));
    // a relative folder given on the command line is taken from here and stored absolute
    assert.match(readFileSync(join(dir.path, 'xdg', 'tdvc', 'config'), 'utf8'), new RegExp(`dir = ${join(dir.path, 'shared-cache')}`));
    assert.equal(ok(await tdvc(dir.path, ['config', '--list'], env)).stdout, `cache.dir=${join(dir.path, 'shared-cache')}\ncore.remote=store\n`);
    ok(await tdvc(dir.path, ['remote', 'add', '--global', 'mine', join(dir.path, 'remote')], env));
    assertOneClearError(await tdvc(dir.path, ['config', 'core.jobs', '3'], env), /not a tdvc repository/);
    assertOneClearError(await tdvc(dir.path, ['config', '--local', '--list'], env), /not a tdvc repository/);
    assert.ok(!existsSync(join(dir.path, '.tdvc')));
  } finally {
    dir.cleanup();
  }
});

test('a per-user default remote and cache folder from the global config are used by every repository', async () => {
  const s = await setup();
  const other = tempDir('tdvc-user-');
  try {
    const remote = join(other.path, 'remote');
    const cache = join(other.path, 'cache');
    mkdirSync(remote);
    ok(await tdvc(s.root, ['remote', 'add', '--global', 'mine', remote], s.env));
    ok(await tdvc(s.root, ['cache', 'dir', '--global', cache], s.env));
    assert.equal(ok(await tdvc(s.root, ['cache', 'dir'], s.env)).stdout, `${cache}\n`);
    assert.equal(readFileSync(s.proj, 'utf8'), '', 'the project config is untouched');
    writeTree(s.root, { 'data/a.txt': 'alpha' });
    ok(await tdvc(s.root, ['add', 'data'], s.env));
    assert.ok(existsSync(join(cache, 'b3v1')), 'objects went to the global cache folder');
    ok(await tdvc(s.root, ['push'], s.env));
    assert.ok(existsSync(join(remote, 'b3v1')), 'push used the global default remote');
    assert.equal(ok(await tdvc(s.root, ['remote', 'list'], s.env)).stdout, `mine\t${remote}\t(default)\n`);
    // removing it takes the scope where it is defined
    const rm = await tdvc(s.root, ['remote', 'remove', 'mine'], s.env);
    assertOneClearError(rm, /remote mine is not in the project or local config/);
    assert.match(rm.stderr, /tdvc remote remove --global mine/);
    ok(await tdvc(s.root, ['remote', 'remove', '--global', 'mine'], s.env));
    assert.doesNotMatch(readFileSync(s.glob, 'utf8'), /mine/);
  } finally {
    s.cleanup();
    other.cleanup();
  }
});

test("a cloned project cannot move the user's cache folder or change the user's remotes", async () => {
  const s = await setup();
  try {
    const mine = join(s.home, 'my-cache');
    write(s.glob, `[cache]\n    dir = ${mine}\n[remote "store"]\n    url = /srv/mine\n`);
    // a hostile commit: another cache folder, made group-writable, and an endpoint for the user's remote
    write(s.proj, '[cache]\n    dir = /tmp/theirs\n    shared = group\n[remote "store"]\n    url = /srv/theirs\n    endpoint_url = https://evil.example\n');
    assert.equal(ok(await tdvc(s.root, ['cache', 'dir'], s.env)).stdout, `${mine}\n`);
    const listed = ok(await tdvc(s.root, ['config', '--list', '--show-origin'], s.env)).stdout;
    assert.match(listed, new RegExp(`file:${s.glob.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\tcache\\.dir=`));
    assert.doesNotMatch(listed, /shared=group|evil|theirs/);
    const remotes = JSON.parse(ok(await tdvc(s.root, ['remote', 'list', '--json'], s.env)).stdout);
    assert.deepEqual(remotes, [{ name: 'store', url: '/srv/mine', isDefault: false, options: {} }]);
    // writing such a setting into the project says who wins, or is refused for the user's remote
    const set = ok(await tdvc(s.root, ['cache', 'dir', '../elsewhere'], s.env));
    assert.match(set.stderr, /warning: cache\.dir from the global config .* wins over the project one/);
    const modify = await tdvc(s.root, ['remote', 'modify', 'store', 'region', 'eu-west-1'], s.env);
    assertOneClearError(modify, /remote store is defined in your global config/);
    assert.doesNotMatch(readFileSync(s.proj, 'utf8'), /region/);
    ok(await tdvc(s.root, ['remote', 'modify', '--local', 'store', 'region', 'eu-west-1'], s.env));
    assert.deepEqual(JSON.parse(ok(await tdvc(s.root, ['remote', 'list', '--json'], s.env)).stdout)[0].options, { region: 'eu-west-1' });
  } finally {
    s.cleanup();
  }
});

test("a team's committed cache.shared reaches a clone whose own cache dir (--local) points at the team's mount", async () => {
  const s = await setup();
  try {
    write(s.proj, '[cache]\n    shared = group\n');
    ok(await tdvc(s.root, ['cache', 'dir', '--local', join(s.home, 'team-mount')], s.env));
    assert.equal(ok(await tdvc(s.root, ['config', 'cache.shared'], s.env)).stdout, 'group\n');
    // the user's default cache for every repository is another matter (see the test above)
    write(s.glob, `[cache]\n    dir = ${join(s.home, 'my-cache')}\n`);
    ok(await tdvc(s.root, ['config', '--local', '--unset', 'cache.dir'], s.env));
    assert.equal((await tdvc(s.root, ['config', 'cache.shared'], s.env)).stdout, '');
  } finally {
    s.cleanup();
  }
});

test('cache.dir in the global or system config must be absolute', async () => {
  const s = await setup();
  try {
    const r = await tdvc(s.root, ['config', '--global', 'cache.dir', 'relative/cache'], s.env);
    assertOneClearError(r, /cache\.dir in the global config must be an absolute path/);
    assert.ok(!existsSync(s.glob));
    write(s.sys, '[cache]\n    dir = relative/cache\n');
    const used = await tdvc(s.root, ['cache', 'dir'], s.env);
    assertOneClearError(used, new RegExp(`cache\\.dir in ${s.sys.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} must be an absolute path`));
    assert.equal(used.code, 2);
  } finally {
    s.cleanup();
  }
});

test('a credential-looking setting written to the committed config is warned about, naming the key', async () => {
  const s = await setup();
  try {
    ok(await tdvc(s.root, ['remote', 'add', 'store', 's3://bucket/x'], s.env));
    const aws = ok(await tdvc(s.root, ['remote', 'modify', 'store', 'secret_access_key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'], s.env));
    assert.match(aws.stderr, /^warning: remote\.store\.secret_access_key looks like an AWS credential; tdvc never reads credentials from its config/m);
    assert.match(aws.stderr, /committed with the project/);
    assert.doesNotMatch(aws.stderr, /wJalr/, 'the value is never repeated');
    // the S3 names are pointless in any scope: still said, but not "committed"
    const local = ok(await tdvc(s.root, ['config', '--local', 'remote.store.aws_session_token', 'x'], s.env));
    assert.match(local.stderr, /aws_session_token looks like an AWS credential/);
    assert.doesNotMatch(local.stderr, /committed/);
    // other secret-like names and AWS-key-like values: warned in the project scope only
    const token = ok(await tdvc(s.root, ['config', 'remote.store.api_token', 'abc'], s.env));
    assert.match(token.stderr, /warning: remote\.store\.api_token looks like a credential.*--local/);
    const keyId = ok(await tdvc(s.root, ['config', 'remote.store.profile', 'AKIAIOSFODNN7EXAMPLE'], s.env));
    assert.match(keyId.stderr, /warning: remote\.store\.profile looks like a credential/);
    const plain = ok(await tdvc(s.root, ['config', 'remote.store.region', 'us-east-1'], s.env));
    assert.equal(plain.stderr, '');
    for (const [flag, key] of [['--local', 'remote.store.api_token'], ['--global', 'remote.mine.api_token']]) {
      const quiet = ok(await tdvc(s.root, ['config', flag!, key!, 'abc'], s.env));
      assert.equal(quiet.stderr, '', flag);
    }
  } finally {
    s.cleanup();
  }
});

test('a malformed, linked or FIFO global config is one clear error naming it', async () => {
  const s = await setup();
  try {
    write(s.glob, '[core]\njobs = 2\nthis is not a setting\n');
    for (const args of [['config', '--list'], ['status']]) {
      const r = await tdvc(s.root, args, s.env);
      assertOneClearError(r, new RegExp(`malformed ${s.glob.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(line 3\\)`));
      assert.doesNotMatch(r.stderr, /this is not/, 'the line is not echoed');
    }
    writeFileSync(join(s.home, 'secret'), 'TOKEN=1\n');
    const { rmSync } = await import('node:fs');
    rmSync(s.glob);
    symlinkSync(join(s.home, 'secret'), s.glob);
    assertOneClearError(await tdvc(s.root, ['config', '--list'], s.env), /global config file .* is a symbolic link/);
    rmSync(s.glob);
    spawnSync('mkfifo', [s.glob]);
    const started = Date.now();
    assertOneClearError(await tdvc(s.root, ['config', 'core.jobs'], s.env), /global config file .* is not a regular file \(a named pipe\)/);
    assert.ok(Date.now() - started < 20_000, 'did not wait for a writer');
  } finally {
    s.cleanup();
  }
});

test('writing a system config that cannot be written is one clear error, and nothing is written', async () => {
  const s = await setup();
  try {
    // a folder this user cannot write (as root, the command runs as nobody: root writes anything)
    const etc = join(s.sys, '..');
    mkdirSync(etc, { recursive: true });
    chmodSync(s.home, 0o755);
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(etc, 0o555);
    const r = await new Promise<RunResult>((resolve, reject) => {
      const child = spawn(process.execPath, [TDVC_BIN, 'config', '--system', 'core.jobs', '4'], {
        cwd: s.home,
        env: { ...process.env, ...s.env, HOME: s.home },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    assertOneClearError(r, new RegExp(`cannot write the system config ${s.sys.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: permission denied`));
    assert.match(r.stderr, /sudo|--global/);
    assert.ok(!existsSync(s.sys));
    chmodSync(etc, 0o755);
    // a path through a file is as clear (it fails as the file is read)
    const blocked = { ...s.env, TDVC_SYSTEM_CONFIG: join(s.proj, 'config') };
    assertOneClearError(await tdvc(s.root, ['config', '--system', 'core.jobs', '4'], blocked), /\.tdvc\/config\/config: not a directory/);
  } finally {
    s.cleanup();
  }
});

test('cache.verify false counts from the global config, never from the project', async () => {
  const s = await setup();
  try {
    const cache = join(s.home, 'cache');
    ok(await tdvc(s.root, ['cache', 'dir', '--global', cache], s.env));
    ok(await tdvc(s.root, ['config', 'cache.verify', 'false'], s.env));
    writeTree(s.root, { 'data/b.txt': 'bravo' });
    ok(await tdvc(s.root, ['add', 'data'], s.env));
    const { hashBytes } = await import('@tdvc/core');
    const { rmSync } = await import('node:fs');
    const oid = hashBytes(Buffer.from('bravo'));
    const obj = join(cache, 'b3v1', oid.slice(0, 2), oid.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, 'EVIL!');
    rmSync(join(s.root, 'data'), { recursive: true });
    const verified = await tdvc(s.root, ['checkout'], s.env);
    assert.equal(verified.code, 4, verified.stderr);
    assert.ok(!existsSync(join(s.root, 'data', 'b.txt')));
    // (the corrupt object was quarantined: it is planted again)
    writeFileSync(obj, 'EVIL!');
    ok(await tdvc(s.root, ['config', '--global', 'cache.verify', 'false'], s.env));
    ok(await tdvc(s.root, ['checkout'], s.env));
    assert.equal(readFileSync(join(s.root, 'data', 'b.txt'), 'utf8'), 'EVIL!');
  } finally {
    s.cleanup();
  }
});
