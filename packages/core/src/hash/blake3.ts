import { createRequire } from 'node:module';
import { open, type FileHandle } from 'node:fs/promises';
import wasmLoader from './wasm-loader.cjs';

// the native binding is required through createRequire, out of a bundler's sight: a bundle (the
// Lambda package) leaves it out and falls back to WASM, which wasm-loader.cts lets it pack
const require = createRequire(import.meta.url);

/** A streaming BLAKE3 hasher; both back ends produce identical 32-byte digests. */
export interface Hasher {
  update(data: Uint8Array): void;
  digestHex(): string;
}

export type HasherBackend = 'native' | 'wasm';

interface NativeModule {
  Blake3Hasher: new () => { update(b: Uint8Array): unknown; digest(format?: string): string };
}
interface WasmModule {
  createHash(): { update(b: Uint8Array): unknown; digest(encoding: 'hex'): string };
}

let chosen: { backend: HasherBackend; create: () => Hasher } | undefined;

function loadNative(): (() => Hasher) | undefined {
  try {
    const mod = require('@napi-rs/blake-hash') as NativeModule;
    return () => {
      const h = new mod.Blake3Hasher();
      return { update: (b) => void h.update(b as Buffer), digestHex: () => h.digest('hex') };
    };
  } catch {
    return undefined;
  }
}

function loadWasm(): () => Hasher {
  const mod = wasmLoader.loadBlake3Wasm() as WasmModule;
  return () => {
    const h = mod.createHash();
    return { update: (b) => void h.update(b), digestHex: () => h.digest('hex') };
  };
}

/**
 * Selects the BLAKE3 back end once per process: the native binding when it loads (several times
 * faster on large files), otherwise WASM. TDVC_HASH_BACKEND=wasm|native forces one.
 */
export function selectBackend(force?: HasherBackend): HasherBackend {
  const wanted = force ?? (process.env['TDVC_HASH_BACKEND'] as HasherBackend | undefined);
  if (chosen && (!wanted || wanted === chosen.backend)) return chosen.backend;
  if (wanted !== 'wasm') {
    const native = loadNative();
    if (native) {
      chosen = { backend: 'native', create: native };
      return 'native';
    }
    if (wanted === 'native') throw new Error('the native BLAKE3 binding @napi-rs/blake-hash is not installed');
  }
  chosen = { backend: 'wasm', create: loadWasm() };
  return 'wasm';
}

export function createHasher(): Hasher {
  if (!chosen) selectBackend();
  return chosen!.create();
}

export function hashBytes(data: Uint8Array): string {
  const h = createHasher();
  h.update(data);
  return h.digestHex();
}

const CHUNK = 4 << 20;

/**
 * Streams an open file, from its current position, through BLAKE3 without holding it in memory.
 * Two buffers: the next chunk is read (on libuv's thread pool) while this one is hashed (on this
 * thread), so the time is the larger of the two rather than their sum.
 */
export async function hashHandle(fh: FileHandle): Promise<{ oid: string; size: number }> {
  const h = createHasher();
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let size = 0;
  let turn = 0;
  let pending = fh.read(bufs[0]!, 0, CHUNK, null);
  for (;;) {
    const { bytesRead } = await pending;
    if (bytesRead === 0) break;
    const full = bufs[turn]!;
    turn ^= 1;
    // reads go on from the file position in order: the next one starts before this chunk is hashed
    pending = fh.read(bufs[turn]!, 0, CHUNK, null);
    h.update(full.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { oid: h.digestHex(), size };
}

/** Streams a file through BLAKE3 without holding it in memory. */
export async function hashFile(path: string): Promise<{ oid: string; size: number }> {
  const fh = await open(path, 'r');
  try {
    return await hashHandle(fh);
  } finally {
    await fh.close();
  }
}
