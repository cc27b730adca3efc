import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MalformedFileError, parsePointer, serializePointer, type Pointer } from '../src/index.js';

const OID = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';

const fileP: Pointer = { version: 1, path: 'model.bin', type: 'file', oid: OID, size: 1234, exec: false };
const execP: Pointer = { version: 1, path: 'run.sh', type: 'file', oid: OID, size: 0, exec: true };
const dirP: Pointer = { version: 1, path: 'data', type: 'dir', oid: OID, size: 9_007_199_254_740_991, files: 3 };

function valid(overrides: Record<string, string | undefined> = {}): string {
  const fields: Record<string, string | undefined> = { tdvc: '1', path: 'data', type: 'dir', hash: `blake3:${OID}`, size: '10', files: '2', ...overrides };
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n') + '\n';
}

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parsePointer(text, 'data.tdvc'),
    (err: unknown) => {
      assert.ok(err instanceof MalformedFileError, `expected MalformedFileError, got ${String(err)}`);
      assert.equal(err.code, 'EMALFORMED');
      assert.equal(err.path, 'data.tdvc');
      assert.match(err.message, /data\.tdvc/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('pointer: serialize then parse gives back the same pointer (file, exec file, dir)', () => {
  for (const p of [fileP, execP, dirP]) {
    const text = serializePointer(p);
    assert.deepEqual(parsePointer(text, 'x.tdvc'), p);
    assert.equal(serializePointer(parsePointer(text, 'x.tdvc')), text, 'serialization is stable');
  }
  assert.match(serializePointer(dirP), /^hash: blake3:[0-9a-f]{64}$/m);
  assert.doesNotMatch(serializePointer(fileP), /exec/, 'exec: false is implied');
});

test('pointer: Windows CRLF line endings are accepted', () => {
  const crlf = serializePointer(dirP).replace(/\n/g, '\r\n');
  assert.deepEqual(parsePointer(crlf, 'data.tdvc'), dirP);
  assert.deepEqual(parsePointer(serializePointer(execP).replace(/\n/g, '\r\n'), 'run.sh.tdvc'), execP);
});

test('pointer: the minimal hand-written form parses', () => {
  assert.deepEqual(parsePointer(valid(), 'data.tdvc'), { version: 1, path: 'data', type: 'dir', oid: OID, size: 10, files: 2 });
});

test('pointer: wrong hash formats are rejected', () => {
  rejects(valid({ hash: OID }), /hash/); // no prefix
  rejects(valid({ hash: `sha256:${OID}` }), /hash/);
  rejects(valid({ hash: `blake3:${OID.toUpperCase()}` }), /hash/); // uppercase hex
  rejects(valid({ hash: `blake3:${OID.slice(0, 63)}` }), /hash/); // too short
  rejects(valid({ hash: `blake3:${OID}0` }), /hash/); // too long
  rejects(valid({ hash: `blake3:${OID.slice(0, 63)}g` }), /hash/); // not hex
  rejects(valid({ hash: '' }), /hash/);
});

test('pointer: missing, unknown and duplicate keys are rejected', () => {
  for (const k of ['tdvc', 'path', 'type', 'hash', 'size', 'files']) rejects(valid({ [k]: undefined }), new RegExp(`missing "${k}"`));
  rejects(valid() + 'owner: me\n', /unknown key "owner"/);
  rejects(valid() + 'size: 11\n', /duplicate key "size"/);
  rejects(valid() + 'this is not a key value line\n', /key: value/);
});

test('pointer: versions 1 and 2 are read and written back as they are; version 3 is rejected with the version named', () => {
  assert.equal(parsePointer(valid({ tdvc: '2' }), 'data.tdvc').version, 2);
  const v2 = { ...dirP, version: 2 as const };
  assert.match(serializePointer(v2), /^tdvc: 2$/m);
  assert.deepEqual(parsePointer(serializePointer(v2), 'data.tdvc'), v2);
  assert.match(serializePointer(dirP), /^tdvc: 1$/m);
  rejects(valid({ tdvc: '3' }), /version 3 is not supported by this tdvc \(it reads versions 1 and 2\)/);
  rejects(valid({ tdvc: '' }), /version/);
});

test('pointer: a path that is not a plain name is rejected', () => {
  for (const bad of ['a/b', '../data', '..', '.', 'sub/..', '/etc', 'C:\\x', 'a\\b', '']) {
    rejects(valid({ path: bad }), /path/);
  }
});

test('pointer: bad type, size, files and exec values are rejected', () => {
  rejects(valid({ type: 'folder' }), /type/);
  rejects(valid({ size: '-1' }), /whole number/);
  rejects(valid({ size: '1e3' }), /whole number/);
  rejects(valid({ files: 'two' }), /whole number/);
  rejects(valid({ exec: 'true' }), /exec/); // exec on a dir
  rejects(valid({ type: 'file', files: undefined, exec: 'yes' }), /exec/);
  rejects(valid({ type: 'file' }), /files/); // files on a file
});

test('pointer: an import records its source (repo, repopath, rev, commit), round trip; partial or hostile sources are rejected', () => {
  const source = { repo: 'https://git.example.com/team/registry.git', repoPath: 'images/train', rev: 'v1.2', commit: 'a'.repeat(40) };
  const imported: Pointer = { ...dirP, version: 2, source };
  assert.deepEqual(parsePointer(serializePointer(imported), 'x.tdvc'), imported);
  const noRev: Pointer = { ...fileP, version: 2, source: { repo: source.repo, repoPath: 'model.bin', commit: 'b'.repeat(40) } };
  assert.deepEqual(parsePointer(serializePointer(noRev), 'x.tdvc'), noRev);
  const base = { repo: source.repo, repopath: 'images', commit: 'c'.repeat(40) };
  const bad: Array<[Record<string, string | undefined>, RegExp]> = [
    [{ ...base, commit: undefined }, /"repo", "repopath" and "commit" together/],
    [{ rev: 'v1' }, /together/],
    [{ ...base, repo: 'file:///etc' }, /http:\/\/ or https:\/\/ URL/],
    [{ ...base, repo: '/srv/registry' }, /URL/],
    [{ ...base, repo: 'https://x.example/a b' }, /URL/],
    [{ ...base, repopath: '../outside' }, /"repopath"/],
    [{ ...base, repopath: '/abs' }, /"repopath"/],
    [{ ...base, rev: 'v1;rm -rf' }, /"rev"/],
    [{ ...base, commit: 'C'.repeat(40) }, /"commit"/],
    [{ ...base, commit: 'abc' }, /"commit"/],
  ];
  for (const [fields, message] of bad) {
    assert.throws(() => parsePointer(valid({ tdvc: '2', ...fields }), 'x.tdvc'), (e: unknown) => e instanceof MalformedFileError && message.test(e.message), JSON.stringify(fields));
  }
});
