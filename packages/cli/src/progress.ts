import { formatBytes } from './output.js';

export interface Progress {
  update(label: string, done: number, total: number, bytes?: number, totalBytes?: number): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

/**
 * A one-line progress bar on stderr, redrawn at most ten times a second. Only on a terminal:
 * piped or redirected output stays clean.
 */
export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return silent;
  const start = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(label, done, total, bytes, totalBytes) {
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      const width = 24;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const bar = total > 0 ? '#'.repeat(Math.round(frac * width)).padEnd(width, '.') : '';
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 && total > done ? ` eta ${Math.ceil((total - done) / rate)}s` : '';
      const byteText = bytes !== undefined ? ` ${formatBytes(bytes)}${totalBytes ? `/${formatBytes(totalBytes)}` : ''} ${formatBytes(secs > 0 ? bytes / secs : 0)}/s` : '';
      const count = total > 0 ? `${done}/${total}` : `${done}`;
      const line = `${label} ${bar ? `[${bar}] ` : ''}${count}${byteText}${eta}`;
      stream.write(`\r${line.slice(0, (stream.columns || 80) - 1)}\x1b[K`);
      drawn = true;
    },
    stop() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
