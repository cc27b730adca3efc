import { ExitCode, TdvcError, type CheckoutResult } from '@tdvc/core';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

/**
 * A reader that goes away (`tdvc status | head -1`) must not kill a command midway through its
 * work: output to a closed pipe is dropped and the command runs to its end.
 */
export function tolerateClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

/**
 * Lines to stdout in chunks, waiting when the reader is slower (memory stays flat for listings of
 * millions of lines), and stopping quietly once the reader has gone (`closed`).
 */
export class LineOut {
  private buf: string[] = [];
  private size = 0;
  closed = false;

  constructor() {
    const done = (): void => void (this.closed = true);
    process.stdout.once('error', done);
    process.stdout.once('close', done);
  }

  /** Adds a line; true when the buffer is full and `flush` should be awaited. */
  push(s: string): boolean {
    s = terminalText(s);
    this.buf.push(s);
    this.size += s.length;
    return this.size >= 64 * 1024;
  }

  async line(s: string): Promise<void> {
    if (this.push(s)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (this.closed) return;
    if (process.stdout.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const go = (): void => {
        process.stdout.off('drain', go);
        process.stdout.off('close', go);
        process.stdout.off('error', go);
        resolve();
      };
      process.stdout.on('drain', go);
      process.stdout.on('close', go);
      process.stdout.on('error', go);
    });
  }
}

/**
 * Text fit for a terminal: control characters other than tab and line break (ESC, BEL, CR, C1
 * controls…) are shown as `\xNN`, so no name or message from someone else's repository, cache or
 * remote can move the cursor, retitle the window or hide what is printed. (tdvc refuses such
 * names in datasets; this covers everything else printed: settings, records, messages.)
 */
export function terminalText(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROL_ALL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : s;
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

/** One line of text to stdout. */
export function out(line: string): void {
  process.stdout.write(terminalText(line) + '\n');
}

/** One line of text to stderr. */
export function err(line: string): void {
  process.stderr.write(terminalText(line) + '\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function say(opts: OutputOptions, line: string): void {
  if (!opts.quiet && !opts.json) out(line);
}

export function warn(line: string): void {
  err(`warning: ${line}`);
}

/** Renders any error as one clear message (no stack trace) and returns the exit code. */
export function renderError(error: unknown, json = false): number {
  if (error instanceof TdvcError) {
    if (json) {
      printJson({ error: { code: error.code, message: error.message, path: error.path, hint: error.hint, data: error.data } });
    } else {
      err(`error: ${error.message}`);
      if (error.hint) err(`hint: ${error.hint}`);
    }
    return error.exitCode;
  }
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.message === 'string') {
    err(`error: ${e.message}`);
    return ExitCode.error;
  }
  err(`internal error: ${String((error as Error)?.message ?? error)}`);
  if (process.env['TDVC_DEBUG'] && (error as Error)?.stack) process.stderr.write(`${(error as Error).stack}\n`);
  else process.stderr.write('(set TDVC_DEBUG=1 for a stack trace, and please report it)\n');
  return ExitCode.internal;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * Files a checkout did not write because their cache entry failed its checks, one line each with
 * what was expected and found; returns how many (the caller exits with ExitCode.integrity).
 */
export function reportRejected(res: CheckoutResult): number {
  const rejected = res.datasets.flatMap((d) => d.rejected ?? []);
  if (rejected.length === 0) return 0;
  err(`error: ${rejected.length} file(s) were not checked out because their cache entry failed its checks:`);
  for (const r of rejected.slice(0, 20)) {
    const found = r.found ? `, found ${r.found}` : '';
    const where = r.quarantinedAs ? `; moved to ${r.quarantinedAs}` : '';
    err(`  ${r.path}: expected ${r.oid}${found} (${r.reason})${where}`);
  }
  if (rejected.length > 20) err(`  … and ${rejected.length - 20} more`);
  err("hint: run 'tdvc pull' to fetch the quarantined objects again (or re-add the original files)");
  return rejected.length;
}
