import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MalformedFileError, MANIFEST_HEADER, parseManifest, serializeManifest, type ManifestEntry } from '../src/index.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = '0123456789abcdef'.repeat(4);

const entries: ManifestEntry[] = [
  { path: 'z.txt', oid: A, size: 1, exec: false },
  { path: 'a/b/c.bin', oid: B, size: 0, exec: true },
  { path: 'a/b.txt', oid: C, size: 123456789, exec: false },
  { path: 'A upper', oid: A, size: 2, exec: false },
  { path: 'with space/and-dash_1', oid: B, size: 3, exec: false },
  { path: 'ünïcode/ф.txt', oid: C, size: 4, exec: false },
  { path: 'emoji/😀.txt', oid: A, size: 5, exec: false },
  { path: 'emoji/\uffff.txt', oid: A, size: 6, exec: false },
];

function line(path: string, oid = A, size = 1, mode = '-'): string {
  return `${oid} ${size} ${mode} ${path}`;
}
function doc(...lines: string[]): string {
  return [MANIFEST_HEADER, ...lines].join('\n') + '\n';
}
function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseManifest(text, 'manifest X'),
    (err: unknown) => {
      assert.ok(err instanceof MalformedFileError, `expected MalformedFileError, got ${String(err)}`);
      assert.match(err.message, /manifest X/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('manifest: serialize/parse round trip', () => {
  const text = serializeManifest(entries);
  const parsed = parseManifest(text, 'm');
  assert.equal(parsed.length, entries.length);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const p of parsed) assert.deepEqual(p, byPath.get(p.path));
  assert.equal(serializeManifest(parsed), text);
  assert.ok(text.startsWith(MANIFEST_HEADER + '\n'));
  assert.ok(text.endsWith('\n'));
});

test('manifest: canonical — the same entries in any order give the same bytes', () => {
  const reference = serializeManifest(entries);
  let seed = 42;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 25; i++) {
    const shuffled = [...entries].sort(() => rand() - 0.5);
    assert.equal(serializeManifest(shuffled), reference);
  }
  assert.equal(serializeManifest([...entries].reverse()), reference);
  // byte order of UTF-8: the astral emoji (F0 ..) sorts after U+FFFF (EF BF BF)
  const lines = reference.trim().split('\n').slice(1).map((l) => l.split(' ').slice(3).join(' '));
  const bytes = [...lines].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(lines, bytes);
});

test('manifest: empty manifest round trip and CRLF accepted', () => {
  assert.deepEqual(parseManifest(serializeManifest([]), 'm'), []);
  const crlf = serializeManifest(entries).replace(/\n/g, '\r\n');
  assert.equal(parseManifest(crlf, 'm').length, entries.length);
});

test('manifest: ".." segments are rejected', () => {
  rejects(doc(line('../etc/passwd')), /\.\./);
  rejects(doc(line('a/../../x')), /\.\./);
  rejects(doc(line('..')), /\.\./);
  rejects(doc(line('a/./b')), /"\."/);
});

test('manifest: absolute paths are rejected', () => {
  rejects(doc(line('/etc/passwd')), /absolute/);
  rejects(doc(line('C:/Windows/x')), /absolute/);
  rejects(doc(line('C:\\Windows\\x')), /absolute/);
});

test('manifest: backslashes and empty segments are rejected', () => {
  rejects(doc(line('a\\..\\b')), /backslash/);
  rejects(doc(line('a//b')), /empty path segment/);
  rejects(doc(line('a/')), /empty path segment/);
  rejects(doc(`${A} 1 - `), /empty path/);
});

test('manifest: duplicates and unsorted entries are rejected', () => {
  rejects(doc(line('a'), line('a')), /out of order or duplicated/);
  rejects(doc(line('b'), line('a')), /out of order or duplicated/);
  rejects(doc(line('a/b'), line('a.txt')), /out of order or duplicated/); // '/' (0x2f) sorts after '.' (0x2e)
});

test('manifest: a path that is both a file and a folder is rejected', () => {
  rejects(doc(line('a'), line('a/b')), /"a" is both a file and a folder/);
  rejects(doc(line('x/y'), line('x/y/z/w')), /"x\/y" is both a file and a folder/);
});

test('manifest: bad header, hash, size, mode and blank lines are rejected', () => {
  rejects(`tdvc-manifest 2\n${line('a')}\n`, /not a tdvc manifest/);
  rejects('', /not a tdvc manifest/);
  rejects(doc(line('a', A.toUpperCase())), /bad hash/);
  rejects(doc(line('a', A.slice(1))), /bad hash/);
  rejects(doc(line('a', A, -1)), /bad size/);
  rejects(doc(line('a', A, 1, 'r')), /bad mode/);
  rejects(doc(line('a'), '', line('b')), /empty line/);
  rejects(doc('garbage'), /expected/);
});
