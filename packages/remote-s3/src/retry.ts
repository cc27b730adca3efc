import { factsOf, retryKind } from './errors.js';

export interface RetryPolicy {
  /** attempts in all, for throttling and 5xx */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 200, maxMs: 20_000 };

/** A refused connection rarely heals within seconds: retry it briefly so a wrong endpoint fails fast. */
const REFUSED_ATTEMPTS = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The wait before re-requesting a body that broke mid-way (attempt 1, 2, …): exponential, no jitter,
 * since only this one transfer is waiting.
 */
export function bodyRetryPause(policy: RetryPolicy, attempt: number): Promise<void> {
  return sleep(Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1)));
}

/**
 * Calls `attempt` until it succeeds or fails for good. Backoff is exponential with full jitter, so
 * many workers throttled at once do not come back in lockstep; throttling waits longer than a reset.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const kind = retryKind(err);
      const errno = factsOf(err).errno;
      const limit = errno === 'ECONNREFUSED' ? Math.min(REFUSED_ATTEMPTS, policy.attempts) : policy.attempts;
      if (kind === 'no' || n >= limit) throw err;
      const base = kind === 'throttled' ? policy.baseMs * 4 : policy.baseMs;
      const cap = Math.min(policy.maxMs, base * 2 ** (n - 1));
      await sleep(cap / 2 + Math.random() * (cap / 2));
    }
  }
}
