import { createHash, type Hash } from 'node:crypto';
import type { DvcHashKind } from './parse-dvc-file.js';

/**
 * DVC's md5 of an object's bytes, fed chunk by chunk. DVC 3 (`hash: md5`) hashes the bytes; DVC 2
 * hashed text files after turning CRLF into LF ("dos2unix") and binary ones as they are, deciding
 * by a guess over the first 512 bytes. For a 2.x output both digests are kept and either may
 * match: the guess need not be repeated, and a binary file's bytes cannot collide with another
 * file's dos2unix form by accident.
 */
export class DvcMd5 {
  private readonly plain: Hash = createHash('md5');
  private readonly unix: Hash | undefined;
  private heldCR = false;

  constructor(kind: DvcHashKind) {
    this.unix = kind === 'md5-dos2unix' ? createHash('md5') : undefined;
  }

  update(chunk: Uint8Array): void {
    this.plain.update(chunk);
    if (!this.unix) return;
    // CRLF → LF across chunk boundaries: a CR at a chunk's end waits for the next byte
    let start = 0;
    if (this.heldCR) {
      this.heldCR = false;
      if (chunk.length > 0 && chunk[0] !== 0x0a) this.unix.update(CR);
    }
    let end = chunk.length;
    if (end > 0 && chunk[end - 1] === 0x0d) {
      this.heldCR = true;
      end--;
    }
    for (let i = start; i < end; i++) {
      if (chunk[i] === 0x0d && i + 1 < chunk.length && chunk[i + 1] === 0x0a) {
        this.unix.update(chunk.subarray(start, i));
        start = i + 1;
      }
    }
    if (start < end) this.unix.update(chunk.subarray(start, end));
  }

  /** Whether the bytes fed hash to `md5` the way DVC computed it. */
  matches(md5: string): boolean {
    if (this.plain.digest('hex') === md5) return true;
    if (!this.unix) return false;
    if (this.heldCR) this.unix.update(CR);
    return this.unix.digest('hex') === md5;
  }
}

const CR = Buffer.from([0x0d]);
