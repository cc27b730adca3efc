/**
 * What the suite's throwaway servers (Ceph RGW, CephFS) are started with: a free loopback port,
 * a command run with a time bound, and waiting until a probe says a daemon is ready.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';

/** A port the kernel hands out on 127.0.0.1 right now (free at the moment of asking). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs `cmd` (killed with SIGKILL after `timeoutMs`); its stdout, or an error carrying its stderr. */
export function runCommand(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown by a probe when waiting longer cannot help (a daemon is gone): `until` gives up at once. */
export class Hopeless extends Error {}

/**
 * Calls `probe` every `everyMs` until it returns a value or `deadline` passes; a probe that throws
 * is tried again (its last error is reported on time-out), except with Hopeless.
 */
export async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Hopeless) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String((last as Error).message ?? last)}` : ''}`);
}
