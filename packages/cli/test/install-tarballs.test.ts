// The four published packages as a user gets them: packed with `pnpm pack` (what `pnpm publish`
// uploads), each tarball's contents checked, then installed with plain npm — no pnpm, no workspace —
// from a throwaway registry on 127.0.0.1 that serves only @tdvc/* (everything else, the AWS SDK
// included, comes from the normal registry). The installed `tdvc` does a push / pull round trip;
// the library packages load through their `exports` map and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPackedManifest, readTarEntry, startNpmRegistry, tempDir, writeTree, type PackedManifest } from '@tdvc/test-utils';

// packages/cli/dist/test → the repository root
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const PACKAGES = ['core', 'cli', 'remote-s3', 'remote-efs'];
// npm install of the AWS SDK alone takes about a minute with an empty cache
const NPM_TIMEOUT = 5 * 60_000;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking this process (the registry answers from it meanwhile). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} (in ${opts.cwd}) exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/**
 * The environment of a user's shell: no npm_config_* a `pnpm test` would pass down, and a PATH
 * that reaches nothing of this workspace (no node_modules/.bin), so only the installed copy runs.
 */
function userEnv(extraPath: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|pnpm_|NODE_PATH$)/i.test(k)) env[k] = v;
  const keep = (process.env.PATH ?? '').split(delimiter).filter((p) => p && !p.startsWith(ROOT) && !p.split(sep).includes('node_modules'));
  env.PATH = [...extraPath, dirname(process.execPath), ...keep].join(delimiter);
  return env;
}

/** Every file under `dir`, relative path → bytes. */
function readFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

test('the four packages pack cleanly, install with plain npm from a registry, and the installed tdvc round-trips data', { timeout: 15 * 60_000 }, async (t) => {
  const tmp = tempDir('tdvc-install-');
  const env = userEnv();
  try {
    // the registry a user's npm would use; fail (not skip) when it cannot be reached
    const upstream = (await ok('npm', ['config', 'get', 'registry'], { cwd: tmp.path })).trim();
    const probe = await run('npm', ['view', '@aws-sdk/client-s3', 'version', `--registry=${upstream}`, '--userconfig', join(tmp.path, 'npmrc')], {
      cwd: tmp.path,
      env,
      timeoutMs: 90_000,
    });
    assert.equal(
      probe.code,
      0,
      `cannot reach the npm registry ${upstream}: this test installs the packages' dependencies (the AWS SDK, commander, …) from it, so it needs network access to it (or set a reachable registry in npm's config).\n${probe.stderr}`,
    );

    const packDir = join(tmp.path, 'packs');
    mkdirSync(packDir);
    writeFileSync(join(tmp.path, 'npmrc'), '');
    const tarballs = new Map<string, { file: string; manifest: PackedManifest }>();
    for (const pkg of PACKAGES) {
      const before = new Set(readdirSync(packDir));
      await ok('pnpm', ['pack', '--pack-destination', packDir], { cwd: join(ROOT, 'packages', pkg), timeoutMs: 120_000 });
      const made = readdirSync(packDir).filter((f) => !before.has(f));
      assert.equal(made.length, 1, `pnpm pack in packages/${pkg} made ${made.join(', ') || 'nothing'}`);
      const file = join(packDir, made[0]!);
      tarballs.set(pkg, { file, manifest: readPackedManifest(readFileSync(file)) });
    }
    const versionOf = new Map([...tarballs.values()].map(({ manifest }) => [manifest.name, manifest.version]));

    await t.test('each tarball holds the compiled library, README, LICENSE and a package.json without workspace: specifiers', async () => {
      const license = readFileSync(join(ROOT, 'LICENSE'));
      assert.match(license.toString('utf8'), /^\s*Apache License\s+Version 2\.0, January 2004/);
      for (const [pkg, { file, manifest }] of tarballs) {
        const entries = (await ok('tar', ['-tzf', file], { cwd: tmp.path })).split('\n').filter(Boolean);
        const bytes = readFileSync(file);
        // only what a user runs or reads: no tests, no build info, no source maps pointing at sources left out
        const stray = entries.filter((e) => !/^package\/(package\.json|README\.md|LICENSE|bin\/tdvc\.js|dist\/src\/.+\.(js|cjs|d\.ts|d\.cts))$/.test(e));
        assert.deepEqual(stray, [], `${pkg}: unexpected files in ${file}`);
        assert.ok(!entries.some((e) => e.startsWith('package/dist/test/') || e.endsWith('.tsbuildinfo')), `${pkg}: tests or build info packed`);
        for (const must of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/src/index.js', 'package/dist/src/index.d.ts'])
          assert.ok(entries.includes(must), `${pkg}: ${must} missing from ${file}`);
        assert.deepEqual(readTarEntry(bytes, 'package/LICENSE'), license, `${pkg}: its LICENSE differs from the repository's`);
        // a compiled file whose source is gone (tsc -b never deletes outputs) must not ship
        for (const e of entries.filter((e) => /^package\/dist\/src\/.+\.c?js$/.test(e))) {
          const source = join(ROOT, 'packages', pkg, e.slice('package/dist/'.length).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts'));
          assert.ok(existsSync(source), `${pkg}: ${e} packed but ${relative(ROOT, source)} does not exist (stale build output: rebuild from clean)`);
        }

        assert.equal(manifest.name, `@tdvc/${pkg}`);
        assert.equal(manifest.license, 'Apache-2.0', `${pkg}: license`);
        assert.deepEqual(manifest.repository, { type: 'git', url: 'git+https://github.com/tdvc/tdvc.git', directory: `packages/${pkg}` }, `${pkg}: repository`);
        assert.deepEqual(manifest.publishConfig, { access: 'public' }, `${pkg}: publishConfig`);
        assert.equal(manifest.private, undefined, `${pkg}: private`);
        assert.equal(manifest.types, './dist/src/index.d.ts', `${pkg}: types`);
        assert.deepEqual(manifest.exports, { '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' } }, `${pkg}: exports`);
        if (pkg === 'cli') assert.deepEqual(manifest.bin, { tdvc: './bin/tdvc.js' });
        assert.doesNotMatch(JSON.stringify(manifest), /workspace:/, `${pkg}: a workspace: specifier was packed`);
        const deps = (manifest.dependencies ?? {}) as Record<string, string>;
        for (const [dep, spec] of Object.entries(deps).filter(([d]) => d.startsWith('@tdvc/')))
          assert.equal(spec, versionOf.get(dep), `${pkg}: dependency ${dep} is ${spec}, not the packed version ${versionOf.get(dep)}`);
      }
      assert.deepEqual(Object.keys((tarballs.get('cli')!.manifest.dependencies ?? {}) as object).filter((d) => d.startsWith('@tdvc/')).sort(), ['@tdvc/core', '@tdvc/remote-efs', '@tdvc/remote-s3']);
    });

    const registry = await startNpmRegistry([...tarballs.values()].map((p) => p.file));
    try {
      const npmFlags = [
        `--@tdvc:registry=${registry.url}`,
        `--registry=${upstream}`,
        '--cache',
        join(tmp.path, 'npm-cache'),
        '--userconfig',
        join(tmp.path, 'npmrc'),
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
      ];
      const cliVersion = tarballs.get('cli')!.manifest.version;

      await t.test('npm install -g @tdvc/cli, then push and pull with the installed tdvc', async () => {
        const prefix = join(tmp.path, 'prefix');
        await ok('npm', ['install', '-g', '--prefix', prefix, '@tdvc/cli', ...npmFlags], { cwd: tmp.path, env, timeoutMs: NPM_TIMEOUT });
        for (const name of ['@tdvc/cli', '@tdvc/core', '@tdvc/remote-s3', '@tdvc/remote-efs'])
          assert.ok(registry.requests.some((r) => r.startsWith(`GET /${name}/-/`)), `npm did not download ${name} from the test registry: ${registry.requests.join(', ')}`);
        const bin = join(prefix, 'bin', 'tdvc');
        const userPath = userEnv([join(prefix, 'bin')]);
        const tdvc = (cwd: string, ...args: string[]): Promise<string> => ok(bin, args, { cwd, env: userPath });

        assert.equal((await tdvc(tmp.path, '--version')).trim(), cliVersion);

        const repo = join(tmp.path, 'repo');
        const remote = join(tmp.path, 'remote');
        mkdirSync(repo);
        mkdirSync(remote);
        await ok('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
        await ok('git', ['config', 'user.name', 'Install Test'], { cwd: repo, env });
        await ok('git', ['config', 'user.email', 'install@example.com'], { cwd: repo, env });
        await tdvc(repo, 'init');
        writeTree(repo, {
          'data/readme.txt': 'a small dataset\n',
          'data/empty': '',
          'data/images/a.bin': randomBytes(300_000),
          'data/images/b.bin': randomBytes(1234),
          'data/deep/er/still/c.csv': 'x,y\n1,2\n',
        });
        const before = readFiles(join(repo, 'data'));
        await tdvc(repo, 'add', 'data');
        await tdvc(repo, 'remote', 'add', '-d', 'store', remote);
        await tdvc(repo, 'push');
        assert.ok(existsSync(join(remote, 'b3v1')), 'push wrote no objects to the folder remote');
        rmSync(join(repo, 'data'), { recursive: true });
        rmSync(join(repo, '.tdvc', 'cache'), { recursive: true });
        await tdvc(repo, 'pull');
        assert.ok(existsSync(join(repo, '.tdvc', 'cache', 'b3v1')), 'pull did not fill the cache again');
        const after = readFiles(join(repo, 'data'));
        assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
        for (const [path, bytes] of before) assert.ok(after.get(path)!.equals(bytes), `data/${path} differs after push, delete and pull`);
      });

      await t.test('npm install @tdvc/core @tdvc/remote-s3 into a project: named exports load, deep imports are refused', async () => {
        const project = join(tmp.path, 'project');
        mkdirSync(project);
        writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
        await ok('npm', ['install', '@tdvc/core', '@tdvc/remote-s3', ...npmFlags], { cwd: project, env, timeoutMs: NPM_TIMEOUT });
        const script = `
          const out = {};
          const core = await import('@tdvc/core');
          const s3 = await import('@tdvc/remote-s3');
          for (const n of ['RevisionView', 'Repo', 'TdvcError', 'add', 'push', 'pull', 'hashBytes']) out[n] = typeof core[n];
          out.openS3Remote = typeof s3.openS3Remote;
          out.hash = core.hashBytes(new TextEncoder().encode('abc'));
          for (const deep of ['@tdvc/core/dist/src/index.js', '@tdvc/remote-s3/dist/src/index.js'])
            try { await import(deep); out[deep] = 'loaded'; } catch (e) { out[deep] = e.code; }
          console.log(JSON.stringify(out));`;
        const out = JSON.parse(await ok(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env })) as Record<string, string>;
        assert.deepEqual(out, {
          RevisionView: 'function',
          Repo: 'function',
          TdvcError: 'function',
          add: 'function',
          push: 'function',
          pull: 'function',
          hashBytes: 'function',
          openS3Remote: 'function',
          // BLAKE3("abc"): the hashing backend works from an installed package
          hash: '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
          '@tdvc/core/dist/src/index.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
          '@tdvc/remote-s3/dist/src/index.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
        });
        for (const name of ['core', 'remote-s3']) {
          const installed = JSON.parse(readFileSync(join(project, 'node_modules', '@tdvc', name, 'package.json'), 'utf8')) as PackedManifest;
          assert.equal(installed.version, versionOf.get(`@tdvc/${name}`));
          assert.ok(existsSync(join(project, 'node_modules', '@tdvc', name, 'dist', 'src', 'index.d.ts')), `@tdvc/${name}: its types are not installed`);
        }
      });
    } finally {
      await registry.close();
    }
  } finally {
    tmp.cleanup();
  }
});
