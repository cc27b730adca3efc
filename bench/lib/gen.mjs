// Deterministic benchmark data: many small files in folders, and one big file.
// Content comes from an AES-256-CTR keystream keyed by the seed (fast, reproducible, incompressible);
// sizes and the split come from a small seeded PRNG.
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: tiny deterministic PRNG returning floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An endless deterministic byte stream: AES-256-CTR over zeros, keyed by (seed, label). */
export function keystream(seed, label) {
  const key = createHash('sha256').update(`tdvc-bench:${seed}:${label}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

export const smallDirName = (d) => `d${String(d).padStart(4, '0')}`;
export const smallFileName = (f) => `f${String(f).padStart(4, '0')}.bin`;

/**
 * The contents of the small files, one after the other: sizes of 1–8 KiB from the seeded PRNG,
 * bytes cut in order out of the keystream (taken in 8 MiB slabs). Returns next() -> Buffer.
 */
function smallContents(seed) {
  const rnd = prng(seed);
  const stream = keystream(seed, 'small');
  let slab = Buffer.alloc(0);
  let pos = 0;
  return () => {
    const size = 1024 + Math.floor(rnd() * (8 * 1024 - 1024 + 1));
    if (pos + size > slab.length) {
      slab = stream(8 << 20);
      pos = 0;
    }
    pos += size;
    return slab.subarray(pos - size, pos);
  };
}

/**
 * Writes `files` files of 1–8 KiB spread evenly over `dirs` folders under `dir`.
 * Returns { files, bytes, diskBytes } (diskBytes: the sizes rounded up to 4 KiB blocks).
 */
export function generateSmall(dir, { files, dirs, seed }) {
  const next = smallContents(seed);
  const perDir = Math.ceil(files / dirs);
  let bytes = 0;
  let diskBytes = 0;
  let written = 0;
  for (let d = 0; d < dirs && written < files; d++) {
    const sub = join(dir, smallDirName(d));
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < perDir && written < files; f++) {
      const b = next();
      writeFileSync(join(sub, smallFileName(f)), b);
      bytes += b.length;
      diskBytes += Math.ceil(b.length / 4096) * 4096;
      written++;
    }
  }
  return { files: written, bytes, diskBytes };
}

/** Names of the flat folder's files: f0000.bin, ..., as wide as the largest number needs. */
export const flatFileName = (f, files) => `f${String(f).padStart(Math.max(4, String(files - 1).length), '0')}.bin`;

/**
 * Writes `files` files of 1–8 KiB (the contents of generateSmall for the same seed) straight into
 * the one folder `dir`. Returns { files, bytes, diskBytes }.
 */
export function generateFlat(dir, { files, seed }) {
  const next = smallContents(seed);
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  let diskBytes = 0;
  for (let f = 0; f < files; f++) {
    const b = next();
    writeFileSync(join(dir, flatFileName(f, files)), b);
    bytes += b.length;
    diskBytes += Math.ceil(b.length / 4096) * 4096;
  }
  return { files, bytes, diskBytes };
}

/** Writes one file of `mb` MiB of keystream bytes. */
export function generateBig(path, { mb, seed }) {
  const stream = keystream(seed, 'big');
  const fd = openSync(path, 'w');
  try {
    const chunk = 16 << 20;
    let left = mb * 1024 * 1024;
    while (left > 0) {
      const n = Math.min(chunk, left);
      const b = stream(n);
      let off = 0;
      while (off < n) off += writeSync(fd, b, off, n - off);
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes: mb * 1024 * 1024 };
}

/**
 * Makes sure `srcDir` holds the data set described by `params`, reusing it when a previous run
 * wrote exactly the same one (a stamp file records the parameters).
 */
export function ensureData(srcDir, params, log = () => {}, discard = (p) => rmSync(p, { recursive: true, force: true })) {
  const stampPath = join(srcDir, 'STAMP.json');
  const want = JSON.stringify(params);
  if (existsSync(stampPath)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
    if (JSON.stringify(stamp.params) === want) {
      log(`reusing generated data in ${srcDir}`);
      return { ...stamp.result, reused: true, seconds: 0 };
    }
  }
  discard(srcDir);
  mkdirSync(srcDir, { recursive: true });
  const t0 = process.hrtime.bigint();
  log(`generating ${params.files} files of 1-8 KiB in ${params.dirs} folders ...`);
  const small = generateSmall(join(srcDir, 'data'), params);
  const t1 = process.hrtime.bigint();
  log(`  ${small.files} files, ${(small.bytes / 1048576).toFixed(1)} MiB in ${(Number(t1 - t0) / 1e9).toFixed(1)} s`);
  log(`generating one ${params.bigMB} MiB file ...`);
  const big = generateBig(join(srcDir, 'big.bin'), { mb: params.bigMB, seed: params.seed });
  const t2 = process.hrtime.bigint();
  log(`  done in ${(Number(t2 - t1) / 1e9).toFixed(1)} s`);
  const result = { smallFiles: small.files, smallBytes: small.bytes, bigBytes: big.bytes };
  writeFileSync(stampPath, JSON.stringify({ params, result }, null, 2));
  return { ...result, reused: false, seconds: Number(t2 - t0) / 1e9 };
}
