/**
 * Whether one download stream is held back by the network or by the local side (hashing and
 * writing). A large object starts as one GET; it is split into parallel ranged GETs only when the
 * consumer mostly waits for bytes, because only then can more connections make it faster.
 *
 * Measured (2 GiB, RGW on the same 2-core machine): one stream waited for the network 46 % of the
 * time and took 2.8-3.2 s; parallel ranges took 4.7-6.2 s there, the extra connections only adding
 * CPU and memory traffic. Against S3 itself one connection gives roughly 100 MB/s, so the consumer
 * waits well over 90 % of the time and parallel ranges are several times faster.
 */
export const NETWORK_BOUND_SHARE = 0.75;

export interface PaceSample {
  /** bytes received on the stream so far */
  received: number;
  /** bytes still to come */
  remaining: number;
  /** time spent waiting for the next chunk, and time spent handling chunks (the sink), since the first byte */
  waitingMs: number;
  busyMs: number;
  partSize: number;
}

/**
 * Whether a split could pay at all: at least one part's worth has arrived (so the shares are not
 * dominated by connection start-up) and at least two parts remain.
 */
export function worthSplitting(s: PaceSample): boolean {
  return s.received >= s.partSize && s.remaining >= 2 * s.partSize;
}

/** True when the consumer waited for the network for most of the time. */
export function networkBound(s: PaceSample): boolean {
  const total = s.waitingMs + s.busyMs;
  return total > 0 && s.waitingMs / total >= NETWORK_BOUND_SHARE;
}

/** Splits the time of a chunk loop into waiting for chunks and handling them. */
export class StreamPace {
  private mark = 0;
  private arrivedAt = 0;
  waitingMs = 0;
  busyMs = 0;

  /** a chunk arrived (the first one only starts the clock: time to first byte is not throughput) */
  arrived(): void {
    const now = performance.now();
    if (this.mark > 0) this.waitingMs += now - this.mark;
    this.arrivedAt = now;
    this.mark = now;
  }

  /** the chunk was handled */
  handled(): void {
    const now = performance.now();
    this.busyMs += now - this.arrivedAt;
    this.mark = now;
  }
}
