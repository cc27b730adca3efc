// Usage errors are printed (once, on stderr, naming the option and the value) and exit 2; hints
// that hold a command with a path in it can be pasted into a shell as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { makeRepo, tdvc, TDVC_BIN, writeTree } from './helpers.js';

const cases: Array<{ args: string[]; names: RegExp }> = [
  { args: ['add', '-j', 'abc', 'x'], names: /'-j, --jobs <n>' argument 'abc' is invalid/ },
  { args: ['add', '-j', '0', 'x'], names: /'-j, --jobs <n>' argument '0' is invalid/ },
  { args: ['fetch', '--jobs', '2.5'], names: /'-j, --jobs <n>' argument '2.5' is invalid/ },
  { args: ['get-url', '--presign', '0', 'x'], names: /'--presign <seconds>' argument '0' is invalid/ },
  { args: ['gc', '-w', '--grace', '-1'], names: /'--grace <seconds>' argument '-1' is invalid/ },
  { args: ['gc', '-w', '--grace', 'abc'], names: /'--grace <seconds>' argument 'abc' is invalid/ },
  { args: ['gc', '-w', '--grace', ''], names: /'--grace <seconds>' argument '' is invalid/ },
  { args: ['status', '--bogus'], names: /unknown option '--bogus'/ },
  { args: ['add'], names: /missing required argument 'paths'/ },
  { args: ['fsck', '-j'], names: /option '-j, --jobs <n>' argument missing/ },
  { args: ['bogus'], names: /unknown command 'bogus'/ },
  { args: ['cache', 'dir', '--bogus'], names: /unknown option '--bogus'/ },
  // every jobs value has a bound (core's concurrency.ts): unbounded, these crashed, hung or ate gigabytes
  { args: ['push', '-j', '4294967296'], names: /'-j, --jobs <n>' argument '4294967296' is invalid. expected a whole number from 1 to 1024/ },
  { args: ['push', '-j', '100000000'], names: /'-j, --jobs <n>' argument '100000000' is invalid/ },
  { args: ['push', '-j', '1e9'], names: /'-j, --jobs <n>' argument '1e9' is invalid/ },
  { args: ['fetch', '-j', '0x10'], names: /'-j, --jobs <n>' argument '0x10' is invalid/ },
  { args: ['pull', '--jobs', '1025'], names: /'-j, --jobs <n>' argument '1025' is invalid/ },
  { args: ['fsck', '-j', '1025'], names: /'-j, --jobs <n>' argument '1025' is invalid/ },
  { args: ['add', '-j', '65', 'x'], names: /'-j, --jobs <n>' argument '65' is invalid. expected a whole number from 1 to 64/ },
  { args: ['checkout', '-j', '1000'], names: /'-j, --jobs <n>' argument '1000' is invalid. expected a whole number from 1 to 64/ },
  { args: ['config', 'core.jobs', '1025'], names: /core\.jobs must be a whole number from 1 to 1024/ },
  { args: ['config', 'remote.r.jobs', '0'], names: /remote\.r\.jobs must be a whole number from 1 to 1024/ },
  // usage errors thrown by core, not by the argument parser, exit 2 too
  { args: ['checkout', '--ours'], names: /--ours needs the paths to resolve/ },
  { args: ['checkout', '--theirs'], names: /--theirs needs the paths to resolve/ },
  { args: ['gc'], names: /gc needs an explicit scope/ },
];

test('every usage error prints one clear error line on stderr and exits 2', async () => {
  // in a repository, so that errors found after it is opened (checkout --ours without a path) count too
  const dir = await makeRepo();
  try {
    for (const { args, names } of cases) {
      const r = await tdvc(dir.root, args);
      const what = `tdvc ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}`);
      assert.equal(r.stdout, '', `${what}: nothing on stdout`);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
      assert.equal(errors.length, 1, `${what}: exactly one error line in ${JSON.stringify(r.stderr)}`);
      assert.match(errors[0]!, names, what);
    }
  } finally {
    dir.cleanup();
  }
});

test('a hint with a path holding a space and a quote can be pasted into a shell', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const ds = "it's my data";
    writeTree(root, { [`${ds}/a.txt`]: 'a\n', [`${ds}/b.txt`]: 'b\n' });
    assert.equal((await tdvc(root, ['add', ds])).code, 0);
    writeTree(root, { [`${ds}/a.txt`]: 'a, changed\n' });
    const r = await tdvc(root, ['add', `${ds}/a.txt`]);
    assert.equal(r.code, 2, r.stderr);
    const hint = /^hint: to record changes inside it, run: (tdvc .*)$/m.exec(r.stderr);
    assert.ok(hint, r.stderr);
    assert.equal(hint[1], `tdvc add 'it'\\''s my data'`);
    // paste it: the shell must hand tdvc exactly the dataset's path, and the add must work
    const pasted = spawnSync('sh', ['-c', `tdvc() { "${process.execPath}" "${TDVC_BIN}" "$@"; }; ${hint[1]}`], { cwd: root, encoding: 'utf8' });
    assert.equal(pasted.status, 0, pasted.stderr);
    assert.match((await tdvc(root, ["status"])).stdout, /up to date/);

    writeTree(root, { [`${ds}/b.txt`]: 'b, changed\n' });
    const st = await tdvc(root, ['status']);
    assert.ok(st.stdout.includes(`(to record: tdvc add 'it'\\''s my data'; to undo: tdvc checkout 'it'\\''s my data')`), st.stdout);
  } finally {
    cleanup();
  }
});

test('add expands a quoted pattern (fast-glob, loaded only for patterns) and names a pattern that matches nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'models/a.bin': 'a', 'models/b.bin': 'b', 'models/c.txt': 'c', 'plain.bin': 'p' });
    const r = await tdvc(root, ['add', 'models/*.bin', 'plain.bin', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const added = (JSON.parse(r.stdout) as { added: Array<{ path: string }> }).added.map((d) => d.path).sort();
    assert.deepEqual(added, ['models/a.bin', 'models/b.bin', 'plain.bin']);
    const none = await tdvc(root, ['add', 'models/*.csv']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /no files match models\/\*\.csv/);
  } finally {
    cleanup();
  }
});
