import { Limiter } from './limit.js';

/**
 * A fixed number of reusable part buffers. Fresh 16 MiB buffers per part are freed only when V8
 * gets round to collecting them, which let a 2 GiB upload peak at 420 MB RSS with a 128 MiB budget;
 * reusing them keeps the budget a real bound.
 */
export class BufferPool {
  private readonly slots: Limiter;
  private readonly free: Buffer[] = [];

  constructor(readonly count: number) {
    this.slots = new Limiter(count);
  }

  /** Runs `fn` with a buffer of exactly `size` bytes that nobody else uses until `fn` settles. */
  with<T>(size: number, fn: (buf: Buffer) => Promise<T>): Promise<T> {
    return this.slots.run(async () => {
      const i = this.free.findIndex((b) => b.byteLength >= size);
      const own = i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(size);
      try {
        return await fn(own.subarray(0, size));
      } finally {
        // a buffer far larger than parts are now would hold memory for nothing
        if (own.byteLength <= size * 2) this.free.push(own);
      }
    });
  }
}
