// Maintenance deletes only what tdvc made. A cloned repository's committed config picks the cache
// folder and the remotes, so fsck and gc may be pointed at any folder of the user's: these tests
// fill such folders with things that merely look like tdvc's (temp-ish names, a folder or a
// symlink under an object's name, a symlinked fan-out folder) and run the real CLI over them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hashBytes, LAYOUT } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, tdvc, TDVC_BIN, tempDir, writeTree, type RunResult } from './helpers.js';

const TWO_DAYS_AGO = new Date(Date.now() - 2 * 24 * 3600_000);

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
}

/** A name exactly as `uniqueTempName()` makes it on this host for process `pid`. */
function localTempName(pid: number, hex = '0123456789ab'): string {
  return `.tmp-${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${pid}-${hex}`;
}

function age(path: string): void {
  utimesSync(path, TWO_DAYS_AGO, TWO_DAYS_AGO);
}

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/**
 * A user's things that look like tdvc's, planted in `root` (a cache or a folder remote), and a
 * snapshot function that must come out the same after maintenance. `outside` holds what the
 * symlinks point at.
 */
function plantLookalikes(root: string, outside: string): { snapshot: () => string; objectFolder: string; objectLink: string } {
  const dead = deadPid();
  const layout = join(root, LAYOUT);
  writeTree(outside, { 'precious.txt': 'do not touch\n', [`fan/${'7'.repeat(62)}`]: 'not an object\n', [`fan/${localTempName(dead, 'aaaaaaaaaaaa')}`]: 'mine\n' });
  age(join(outside, 'fan', localTempName(dead, 'aaaaaaaaaaaa')));
  writeTree(root, {
    '.tmp-important/thesis.tex': 'years of work\n',
    '.tmp-important/sub/data.csv': '1,2,3\n',
    '.tmp-notes': 'notes\n',
    [`${localTempName(dead)}/inside.txt`]: 'a folder named like a dead writer’s temp file\n',
    [`${LAYOUT}/${localTempName(dead, 'bbbbbbbbbbbb')}/inside.txt`]: 'same, in the layout folder\n',
    [`${LAYOUT}/ab/${localTempName(dead, 'cccccccccccc')}/inside.txt`]: 'same, in a fan-out folder\n',
    [`${LAYOUT}/ab/${'1'.repeat(62)}/inside.txt`]: 'a folder under an object name\n',
    'projects/.tmp-keep': 'not a temp name\n',
  });
  for (const p of ['.tmp-important/sub/data.csv', '.tmp-important/thesis.tex', '.tmp-important/sub', '.tmp-important', '.tmp-notes', localTempName(dead), `${LAYOUT}/${localTempName(dead, 'bbbbbbbbbbbb')}`, `${LAYOUT}/ab/${localTempName(dead, 'cccccccccccc')}`, `${LAYOUT}/ab/${'1'.repeat(62)}`, 'projects/.tmp-keep']) {
    age(join(root, p));
  }
  mkdirSync(join(layout, 'cd'), { recursive: true });
  const objectLink = join(layout, 'cd', '2'.repeat(62));
  symlinkSync(join(outside, 'precious.txt'), objectLink);
  symlinkSync(join(outside, 'precious.txt'), join(layout, localTempName(dead, 'dddddddddddd')));
  symlinkSync(join(outside, 'fan'), join(layout, 'ef'));
  const snapshot = (): string => {
    const out: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const n of readdirSync(dir).sort()) {
        const p = join(dir, n);
        const st = lstatSync(p);
        if (st.isSymbolicLink()) out.push(`${rel}${n} -> link`);
        else if (st.isDirectory()) walk(p, `${rel}${n}/`);
        else out.push(`${rel}${n}: ${readFileSync(p, 'utf8')}`);
      }
    };
    walk(outside, 'outside/');
    for (const p of ['.tmp-important', localTempName(dead), `${LAYOUT}/${localTempName(dead, 'bbbbbbbbbbbb')}`, `${LAYOUT}/ab/${localTempName(dead, 'cccccccccccc')}`, `${LAYOUT}/ab/${'1'.repeat(62)}`]) {
      walk(join(root, p), `${p}/`);
    }
    // (the symlink under an object's name is checked by each test: fsck quarantines it, gc leaves it)
    for (const p of ['.tmp-notes', 'projects/.tmp-keep', `${LAYOUT}/${localTempName(dead, 'dddddddddddd')}`, `${LAYOUT}/ef`]) {
      out.push(`${p}: ${existsSync(join(root, p)) || lstatSync(join(root, p), { throwIfNoEntry: false }) ? 'there' : 'GONE'}`);
    }
    return out.join('\n');
  };
  return { snapshot, objectFolder: join(layout, 'ab', '1'.repeat(62)), objectLink };
}

/** Real leftovers of killed writers: these must still be cleaned up. */
function plantRealStaleTemps(root: string, dirs: string[]): string[] {
  const dead = deadPid();
  const out: string[] = [];
  for (const [i, d] of dirs.entries()) {
    mkdirSync(join(root, d), { recursive: true });
    const deadLocal = join(d, localTempName(dead, `${i}`.padStart(12, 'e')));
    const foreignOld = join(d, `.tmp-otherhost-4242-${`${i}`.padStart(12, 'f')}`);
    writeFileSync(join(root, deadLocal), 'half written');
    writeFileSync(join(root, foreignOld), 'half written');
    age(join(root, foreignOld));
    out.push(deadLocal, foreignOld);
  }
  return out;
}

async function repoWithCache(): Promise<{ root: string; cache: string; outside: string; cleanup: () => void }> {
  const { root, cleanup } = await makeRepo();
  const home = tempDir('tdvc-home-');
  const cache = join(home.path, 'cache');
  const outside = join(home.path, 'outside');
  mkdirSync(cache);
  await ok(root, ['cache', 'dir', cache]);
  writeTree(root, { 'data/a.txt': 'a\n', 'data/b.txt': 'b\n' });
  await ok(root, ['add', 'data']);
  return {
    root,
    cache,
    outside,
    cleanup: () => {
      cleanup();
      home.cleanup();
    },
  };
}

test('fsck on a cache folder deletes only exact temp files of killed writers, never a user’s look-alikes', async () => {
  const { root, cache, outside, cleanup } = await repoWithCache();
  try {
    const { snapshot, objectFolder, objectLink } = plantLookalikes(cache, outside);
    const real = plantRealStaleTemps(cache, ['', LAYOUT, join(LAYOUT, 'ab'), 'projects']);
    const before = snapshot();
    const r = await tdvc(root, ['fsck', '--json']);
    assert.equal(r.code, 4, `repairs are reported with exit 4: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as { checked: number; corrupt: Array<{ oid: string; found: string; quarantinedAs: string }>; removedTemps: string[]; skipped: string[] };
    assert.deepEqual(report.removedTemps.sort(), real.map((p) => join(cache, p)).sort(), 'exactly the real leftovers');
    // a link under an object's name is moved aside as a link (never read through); nothing under
    // the symlinked fan-out folder is touched
    assert.deepEqual(
      report.corrupt.map((c) => [c.oid, c.found]),
      [[`cd${'2'.repeat(62)}`, '(it is a symbolic link)']],
    );
    assert.equal(lstatSync(report.corrupt[0]!.quarantinedAs).isSymbolicLink(), true);
    assert.equal(lstatSync(objectLink, { throwIfNoEntry: false }), undefined);
    assert.equal(report.checked, 4, 'two files, the manifest and the link');
    assert.deepEqual(report.skipped.sort(), [join(cache, LAYOUT, 'ef'), objectFolder].sort());
    assert.equal(snapshot(), before, 'the user’s things are untouched');
    for (const p of real) assert.equal(existsSync(join(cache, p)), false, `${p} removed`);
    // what is left in place is still wrong: reported each time, with exit 4 and what to do
    const text = await tdvc(root, ['fsck']);
    assert.equal(text.code, 4, text.stderr);
    assert.match(text.stderr, /error: not tdvc's, left in place and not checked .*1{62}/);
    assert.match(text.stderr, /hint: tdvc never moves or deletes what it did not make/);
    assert.equal(snapshot(), before);
  } finally {
    cleanup();
  }
});

test('fsck -r on a folder remote deletes only exact temp files, lists only regular files under object names, and reports the rest', async () => {
  const { root, outside, cleanup } = await repoWithCache();
  const store = tempDir('tdvc-store-');
  try {
    await ok(root, ['remote', 'add', '-d', 'store', store.path]);
    await ok(root, ['push']);
    const { snapshot, objectFolder, objectLink } = plantLookalikes(store.path, outside);
    const real = plantRealStaleTemps(store.path, [LAYOUT, join(LAYOUT, 'ab')]);
    const before = snapshot();
    const r = await tdvc(root, ['fsck', '-r', 'store', '--json']);
    const report = JSON.parse(r.stdout) as { checked: number; corrupt: unknown[]; removedTemps: string[]; rejected: Array<{ path: string; reason: string }> };
    assert.deepEqual(report.corrupt, [], 'a symlink to a user’s file is not listed (so not read) as an object');
    assert.deepEqual(
      report.rejected.map((x) => [x.path, x.reason]).sort(),
      [
        [objectFolder, 'it is a folder'],
        [objectLink, 'it is a symbolic link'],
        [join(store.path, LAYOUT, 'ef'), "it is a symbolic link where the remote's own folder belongs"],
      ].sort(),
      'what is under an object name but is not an object is reported',
    );
    assert.equal(report.checked, 3);
    assert.deepEqual(report.removedTemps.sort(), real.sort());
    assert.equal(r.code, 4, r.stderr);
    assert.equal(snapshot(), before, 'the user’s things are untouched');
    assert.equal(lstatSync(objectLink).isSymbolicLink(), true);
    const again = await tdvc(root, ['fsck', '-r', 'store']);
    assert.equal(again.code, 4, 'what is left in place is reported each time');
    assert.match(again.stderr, /hint: tdvc never deletes or replaces what it did not write/);
    assert.equal(snapshot(), before);
  } finally {
    cleanup();
    store.cleanup();
  }
});

test('gc --force --grace 0 deletes unreferenced objects but no folder or symlink under an object name, in the cache and on a remote', async () => {
  const { root, cache, outside, cleanup } = await repoWithCache();
  const store = tempDir('tdvc-store-');
  const remoteOutside = tempDir('tdvc-outside-');
  try {
    await ok(root, ['remote', 'add', '-d', 'store', store.path]);
    await ok(root, ['push']);
    writeTree(root, { 'data/a.txt': 'a, second version\n' });
    await ok(root, ['add', 'data']);
    await ok(root, ['push']);
    const old = hashBytes(Buffer.from('a\n'));
    const local = plantLookalikes(cache, outside);
    const remote = plantLookalikes(store.path, remoteOutside.path);
    const beforeLocal = local.snapshot();
    const beforeRemote = remote.snapshot();

    const r = await ok(root, ['gc', '-w', '--force', '--grace', '0', '--json']);
    const res = JSON.parse(r.stdout) as { removed: Array<{ oid: string }> };
    assert.ok(res.removed.some((x) => x.oid === old), 'the first version of a.txt is collected');
    assert.ok(!res.removed.some((x) => x.oid === '1'.repeat(64) || x.oid === 'cd' + '2'.repeat(62)), 'look-alikes are not even candidates');
    assert.equal(existsSync(join(cache, LAYOUT, old.slice(0, 2), old.slice(2))), false);
    assert.equal(local.snapshot(), beforeLocal, 'the user’s things in the cache folder are untouched');
    assert.equal(lstatSync(local.objectLink).isSymbolicLink(), true, 'a link under an object name is not deleted');

    const rr = await ok(root, ['gc', '-r', 'store', '-w', '--force', '--grace', '0', '--json']);
    const rres = JSON.parse(rr.stdout) as { removed: Array<{ oid: string }> };
    assert.ok(rres.removed.some((x) => x.oid === old), 'the remote’s copy of the first version is collected');
    assert.ok(!rres.removed.some((x) => x.oid === '1'.repeat(64) || x.oid === 'cd' + '2'.repeat(62)));
    assert.equal(existsSync(join(store.path, LAYOUT, old.slice(0, 2), old.slice(2))), false);
    assert.equal(remote.snapshot(), beforeRemote, 'the user’s things in the remote folder are untouched');
    assert.equal(lstatSync(remote.objectLink).isSymbolicLink(), true);
    assert.equal(readFileSync(join(outside, 'precious.txt'), 'utf8'), 'do not touch\n');
  } finally {
    cleanup();
    store.cleanup();
    remoteOutside.cleanup();
  }
});

test('gc --forget-project takes only a project id as tdvc makes them: no path escapes the projects folder', async () => {
  const { root, cache, cleanup } = await repoWithCache();
  try {
    // <cache>/projects/../../victim.json is the cache's parent's victim.json
    const victim = join(cache, '..', 'victim.json');
    writeFileSync(victim, '{"important": true}\n');
    for (const id of ['../../victim', '../projects/x', 'ABCDEF0123456789', '0123456789abcdef0', '']) {
      const r = await tdvc(root, ['gc', '--forget-project', id]);
      assert.equal(r.code, 2, `${JSON.stringify(id)}: usage error, got ${r.code}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`error: not a project id: ${JSON.stringify(id)}`), r.stderr);
    }
    assert.equal(readFileSync(victim, 'utf8'), '{"important": true}\n');
    const unknown = await tdvc(root, ['gc', '--forget-project', '0123456789abcdef']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /no project 0123456789abcdef is registered/);
    await ok(root, ['gc', '-w']); // registers this project
    const [registered] = readdirSync(join(cache, 'projects')).filter((n) => n.endsWith('.json'));
    assert.ok(registered);
    const gone = await ok(root, ['gc', '--forget-project', registered.slice(0, -'.json'.length)]);
    assert.match(gone.stdout, /unregistered/);
  } finally {
    cleanup();
  }
});

// ---- the cache's workspaces/ and projects/ folders -------------------------------------------

const FOREIGN_ID = '0123456789abcdef';

/**
 * An attacker's repository, made with plain git: its committed config names a cache folder inside
 * the repository whose `workspaces` and/or `projects` are links (`links` says which: the folders
 * themselves, or only the entries `<id>.json` in real folders) to a victim folder outside, holding
 * a file named as a record would be. Returns the victim's clone and the victim folder.
 */
async function attackerCacheClone(links: { folders: Array<'workspaces' | 'projects'>; entries?: boolean }): Promise<{ clone: string; cache: string; victim: string; cleanup: () => void }> {
  const t = tempDir('tdvc-u2-');
  const victim = join(t.path, 'victim');
  const att = join(t.path, 'att');
  writeTree(victim, { [`${FOREIGN_ID}.json`]: 'precious\n' });
  mkdirSync(att);
  git(att, 'init', '-q', '-b', 'main');
  const init = await tdvc(att, ['init', '-q']);
  assert.equal(init.code, 0, init.stderr);
  const evil = join(att, 'evilcache');
  mkdirSync(evil);
  for (const f of ['workspaces', 'projects'] as const) {
    if (!links.entries && links.folders.includes(f)) symlinkSync(victim, join(evil, f));
    else if (links.entries) {
      mkdirSync(join(evil, f));
      symlinkSync(join(victim, `${FOREIGN_ID}.json`), join(evil, f, `${FOREIGN_ID}.json`));
    } else writeTree(evil, { [`${f}/.keep`]: '' });
  }
  await ok(att, ['config', 'cache.dir', '../evilcache']);
  git(att, 'add', '-A');
  git(att, 'commit', '-qm', 'evil');
  const clone = join(t.path, 'clone');
  git(t.path, 'clone', '-q', att, clone);
  return { clone, cache: join(clone, 'evilcache'), victim, cleanup: t.cleanup };
}

test('a committed cache whose workspaces/ and projects/ are links to a victim folder: gc, cache status and add refuse, naming the link, and touch nothing there', async () => {
  const { clone, victim, cleanup } = await attackerCacheClone({ folders: ['workspaces', 'projects'] });
  try {
    const before = snapshot(victim);
    const forgetW = await tdvc(clone, ['gc', '-w', '--forget-workspace', FOREIGN_ID]);
    assertOneClearError(forgetW, /evilcache\/workspaces -> .*victim/, /symbolic link/);
    const forgetP = await tdvc(clone, ['gc', '-w', '--forget-project', FOREIGN_ID]);
    assertOneClearError(forgetP, /evilcache\/projects -> .*victim/, /symbolic link/);
    const json = await tdvc(clone, ['gc', '-w', '--forget-workspace', FOREIGN_ID, '--json']);
    assert.notEqual(json.code, 0);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'ESYMLINK');
    assertOneClearError(await tdvc(clone, ['gc', '-w', '--force', '--grace', '0']), /evilcache\/(projects|workspaces)/, /symbolic link/);
    assertOneClearError(await tdvc(clone, ['cache', 'status']), /evilcache\/(projects|workspaces)/, /symbolic link/);
    writeTree(clone, { 'd/a.txt': 'a\n' });
    assertOneClearError(await tdvc(clone, ['add', 'd']), /evilcache\/(projects|workspaces)/, /symbolic link/);
    assert.equal(readFileSync(join(victim, `${FOREIGN_ID}.json`), 'utf8'), 'precious\n', 'the victim file is intact');
    assert.deepEqual(snapshot(victim), before, 'nothing written into, or deleted from, the victim folder');
  } finally {
    cleanup();
  }
});

test('only workspaces/ a link: add stops before it writes anything, gc refuses, nothing lands in the victim folder', async () => {
  const { clone, cache, victim, cleanup } = await attackerCacheClone({ folders: ['workspaces'] });
  try {
    const before = snapshot(victim);
    writeTree(clone, { 'd/a.txt': 'a\n' });
    assertOneClearError(await tdvc(clone, ['add', 'd']), /evilcache\/workspaces/, /symbolic link/);
    assert.equal(existsSync(join(clone, 'd.tdvc')), false, 'no pointer file written');
    assert.equal(existsSync(join(cache, LAYOUT)), false, 'no object written');
    assertOneClearError(await tdvc(clone, ['gc', '-w', '--force', '--grace', '0']), /evilcache\/workspaces/, /symbolic link/);
    assertOneClearError(await tdvc(clone, ['gc', '--forget-workspace', FOREIGN_ID]), /evilcache\/workspaces/, /symbolic link/);
    assert.deepEqual(snapshot(victim), before);
  } finally {
    cleanup();
  }
});

test('records in workspaces/ and projects/ that are links: refused by name, neither followed nor deleted', async () => {
  const { clone, cache, victim, cleanup } = await attackerCacheClone({ folders: [], entries: true });
  try {
    const before = snapshot(victim);
    for (const [args, f] of [[['gc', '--forget-workspace', FOREIGN_ID], 'workspaces'], [['gc', '--forget-project', FOREIGN_ID], 'projects']] as const) {
      assertOneClearError(await tdvc(clone, [...args]), new RegExp(`evilcache/${f}/${FOREIGN_ID}\\.json`), /symbolic link/);
      assert.equal(lstatSync(join(cache, f, `${FOREIGN_ID}.json`)).isSymbolicLink(), true, 'the link itself is left alone');
    }
    assertOneClearError(await tdvc(clone, ['gc', '-w']), /evilcache\/(workspaces|projects)\/0123456789abcdef\.json/, /symbolic link/);
    assertOneClearError(await tdvc(clone, ['cache', 'status']), /evilcache\/(workspaces|projects)\/0123456789abcdef\.json/, /symbolic link/);
    assert.deepEqual(snapshot(victim), before);
  } finally {
    cleanup();
  }
});

test('gc prints a foreign workspace record and project registration with control characters replaced, as cache status does', async () => {
  const { root, cache, cleanup } = await repoWithCache();
  try {
    const old = new Date(Date.now() - 40 * 24 * 3600_000);
    const rec = join(cache, 'workspaces', `${FOREIGN_ID}.json`);
    writeFileSync(rec, JSON.stringify({ format: 1, id: FOREIGN_ID, host: 'h\u001b]0;pwned\u0007', user: 'u', root: '/x\u001b[2J', lastSeen: 'then\r', roots: { dirs: [], files: [] }, commits: {} }));
    utimesSync(rec, old, old);
    const pid = 'fedcba9876543210';
    writeFileSync(join(cache, 'projects', `${pid}.json`), JSON.stringify({ id: pid, root: '/gone\u001b[31m', host: 'elsewhere\u0007', registeredAt: 'then' }));
    const refused = await tdvc(root, ['gc', '-w']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /\/gone\?\[31m \(host elsewhere\?\)/);
    await ok(root, ['gc', '--forget-project', pid]);
    const r = await ok(root, ['gc', '-w']);
    assert.match(r.stdout, new RegExp(`workspace ${FOREIGN_ID} \\(h\\?\\]0;pwned\\?:/x\\?\\[2J\\) was last seen then\\?`));
    for (const out of [refused.stdout, refused.stderr, r.stdout, r.stderr]) assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(out), `no control characters: ${JSON.stringify(out)}`);
  } finally {
    cleanup();
  }
});

test('gc refuses when it cannot list the workspace records of a shared cache, deleting nothing another workspace needs', { skip: process.getuid?.() === 0 ? false : 'needs root to run tdvc as another user' }, async () => {
  const cache = tempDir('tdvc-cache-');
  const a = await makeRepo();
  const b = await makeRepo();
  try {
    for (const r of [a.root, b.root]) await ok(r, ['cache', 'dir', cache.path]);
    writeTree(b.root, { 'data/only-b.txt': 'only B needs this' });
    await ok(b.root, ['add', 'data']); // B's record in workspaces/ names it
    const bObject = join(cache.path, LAYOUT, ...((oid) => [oid.slice(0, 2), oid.slice(2)])(hashBytes(Buffer.from('only B needs this'))));
    assert.ok(existsSync(bObject));
    // A runs gc as a user who can write the cache but not list workspaces/
    const nobody = 65534;
    spawnSync('chown', ['-R', `${nobody}:${nobody}`, a.root, cache.path]);
    spawnSync('chown', ['0:0', join(cache.path, 'workspaces')]);
    spawnSync('chmod', ['0700', join(cache.path, 'workspaces')]);
    const r = spawnSync(process.execPath, [TDVC_BIN, 'gc', '-w', '--force', '--grace', '0'], {
      cwd: a.root,
      uid: nobody,
      gid: nobody,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: a.root },
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0, `gc must refuse: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /workspaces/);
    assert.match(r.stderr, /permission denied/i);
    assert.ok(existsSync(bObject), 'the object only B references is still there');
  } finally {
    a.cleanup();
    b.cleanup();
    cache.cleanup();
  }
});
