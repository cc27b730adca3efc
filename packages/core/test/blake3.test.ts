import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHasher, hashBytes, hashFile, selectBackend } from '../src/index.js';

// the tests choose back ends themselves; an inherited TDVC_HASH_BACKEND would override selectBackend()
delete process.env['TDVC_HASH_BACKEND'];

const SIZES = [0, 1, 1023, 1024, 1025, 64 * 1024 + 1, 5 * 1024 * 1024 + 3];
const hasB3sum = spawnSync('b3sum', ['--version']).status === 0;
const skip = hasB3sum ? false : 'the b3sum binary is not installed (apt-get install b3sum)';

let dir = '';
const samples: Array<{ size: number; data: Buffer; path: string; expected: string }> = [];

/** Deterministic, non-repeating bytes (a repeating pattern could hide chunking bugs). */
function bytes(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tdvc-b3-'));
  if (!hasB3sum) return;
  for (const size of SIZES) {
    const data = bytes(size, size + 7);
    const path = join(dir, `f${size}`);
    writeFileSync(path, data);
    const expected = execFileSync('b3sum', ['--no-names', path], { encoding: 'utf8' }).trim();
    assert.match(expected, /^[0-9a-f]{64}$/);
    samples.push({ size, data, path, expected });
  }
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  selectBackend();
});

for (const backend of ['native', 'wasm'] as const) {
  test(`blake3 ${backend}: hashBytes, hashFile and a split streaming hasher agree with b3sum`, { skip }, async () => {
    assert.equal(selectBackend(backend), backend);
    assert.equal(selectBackend(), backend, 'the choice sticks for later calls without an argument');
    for (const s of samples) {
      assert.equal(hashBytes(s.data), s.expected, `hashBytes, ${s.size} B`);
      assert.deepEqual(await hashFile(s.path), { oid: s.expected, size: s.size }, `hashFile, ${s.size} B`);
      const h = createHasher();
      // odd-sized pieces that straddle BLAKE3's 1024-byte chunk boundaries
      for (let off = 0; off < s.data.length; off += 777) h.update(s.data.subarray(off, off + 777));
      assert.equal(h.digestHex(), s.expected, `streamed in 777-byte pieces, ${s.size} B`);
    }
  });
}

/**
 * Counts how often each back end's constructor is used, by wrapping the exports of the very
 * module instances blake3.ts loaded (CommonJS modules are shared through require's cache).
 */
function spyBackends(): { counts: { native: number; wasm: number }; restore: () => void } {
  const req = createRequire(new URL('../../src/hash/blake3.js', import.meta.url));
  const wasm = req('blake3-wasm') as { createHash: (...a: unknown[]) => unknown };
  const native = req('@napi-rs/blake-hash') as { Blake3Hasher: new () => object };
  const counts = { native: 0, wasm: 0 };
  const origCreate = wasm.createHash;
  const OrigNative = native.Blake3Hasher;
  wasm.createHash = (...a: unknown[]) => {
    counts.wasm++;
    return origCreate(...a);
  };
  native.Blake3Hasher = class extends (OrigNative as new () => object) {
    constructor() {
      super();
      counts.native++;
    }
  } as typeof OrigNative;
  return {
    counts,
    restore: () => {
      wasm.createHash = origCreate;
      native.Blake3Hasher = OrigNative;
    },
  };
}

test('blake3: switching back ends takes effect and both give identical digests', { skip }, () => {
  const data = samples.find((s) => s.size === 1025)!;
  const spy = spyBackends();
  try {
    selectBackend('wasm');
    hashBytes(data.data);
    assert.deepEqual(spy.counts, { native: 0, wasm: 1 }, 'wasm selected: wasm hashes');
    selectBackend('native');
    hashBytes(data.data);
    assert.deepEqual(spy.counts, { native: 1, wasm: 1 }, 'native selected again: native hashes');
    selectBackend();
    hashBytes(data.data);
    assert.deepEqual(spy.counts, { native: 2, wasm: 1 }, 'no argument keeps the current choice');
  } finally {
    spy.restore();
  }
  selectBackend('native');
  const nativeHasher = createHasher();
  selectBackend('wasm');
  const wasmHasher = createHasher();
  nativeHasher.update(data.data);
  wasmHasher.update(data.data);
  assert.equal(nativeHasher.digestHex(), data.expected);
  assert.equal(wasmHasher.digestHex(), data.expected);
  assert.equal(selectBackend(), 'wasm');
  assert.equal(selectBackend('native'), 'native');
  assert.equal(selectBackend(), 'native');
  assert.equal(hashBytes(data.data), data.expected);
});

test('blake3: a hasher object is independent of other hashers', () => {
  const a = createHasher();
  const b = createHasher();
  a.update(Buffer.from('abc'));
  b.update(Buffer.from('xyz'));
  assert.equal(a.digestHex(), hashBytes(Buffer.from('abc')));
  assert.equal(b.digestHex(), hashBytes(Buffer.from('xyz')));
  // the empty input's well-known BLAKE3 digest
  assert.equal(hashBytes(new Uint8Array(0)), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
});
