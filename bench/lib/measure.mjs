// Timing helpers: wall-clock of shell commands, and wall-clock + peak RSS of tdvc commands.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const MAX_BUFFER = 512 << 20;
export const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a shell command (bash -c) and returns its wall-clock seconds; throws when it fails. */
export function timeShell(cmd, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', cmd], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_BUFFER });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`command failed (${r.status}): ${cmd}\n${r.stderr}`);
  return s;
}

/** Runs a shell command untimed; returns stdout; throws on failure. */
export function sh(cmd, opts = {}) {
  const r = spawnSync('bash', ['-c', cmd], { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_BUFFER });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`command failed (${r.status}): ${cmd}\n${r.stderr}`);
  return opts.allowFail ? { code: r.status, stdout: r.stdout, stderr: r.stderr } : r.stdout;
}

/** Runs `setup` (untimed) then `cmd` (timed) `n` times; returns { median, runs }. */
export function repeatShell(n, cmd, opts = {}) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    if (opts.setup) sh(opts.setup, opts);
    runs.push(timeShell(cmd, opts));
    if (opts.teardown) sh(opts.teardown, opts);
  }
  return { median: median(runs), runs };
}

/**
 * Runs `node <argv>` and reports wall-clock seconds and peak RSS (MiB). Peak RSS comes from
 * GNU time's %M when /usr/bin/time exists, otherwise from polling VmHWM in /proc/PID/status.
 */
export async function runNode(argv, opts = {}) {
  const env = { ...process.env, ...(opts.env ?? {}) };
  if (TIME_BIN) {
    const out = join(tmpdir(), `tdvc-bench-time-${process.pid}-${Date.now()}`);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TIME_BIN, ['-f', '%M', '-o', out, process.execPath, ...argv], {
      cwd: opts.cwd,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: MAX_BUFFER,
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    rmSync(out, { force: true });
    const kb = Number(lines[lines.length - 1]);
    return { seconds, rssMB: kb / 1024, code: r.status, stdout: r.stdout, stderr: r.stderr, rssSource: 'GNU time %M' };
  }
  return await new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hwmKB = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwmKB = Math.max(hwmKB, Number(m[1]));
      } catch {}
    }, 10);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ seconds, rssMB: hwmKB / 1024, code, stdout, stderr, rssSource: 'VmHWM polling' });
    });
  });
}
