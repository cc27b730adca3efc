// Describes the machine the benchmark runs on.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { sh } from './measure.mjs';

export async function describeMachine(workDir, coreIndexUrl, rootDir) {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {}
  const fsType = sh(`df --output=fstype ${JSON.stringify(workDir)} | tail -1`).trim();
  const device = sh(`df --output=source ${JSON.stringify(workDir)} | tail -1`).trim();
  let backend = 'unknown';
  try {
    const core = await import(coreIndexUrl);
    backend = core.selectBackend();
  } catch (err) {
    backend = `unknown (${err.message})`;
  }
  const b3sum = sh('b3sum --version', { allowFail: true }).stdout?.trim() || 'missing';
  return {
    nproc: Number(sh('nproc').trim()),
    cpuModel,
    ramGiB: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
    workDir,
    fsType,
    device,
    node: process.version,
    hashBackend: backend,
    hashBackendForced: process.env.TDVC_HASH_BACKEND ?? null,
    b3sum,
    git: sh('git --version').trim(),
    ...(rootDir
      ? {
          commit: sh(`git -C ${JSON.stringify(rootDir)} rev-parse --short HEAD`, { allowFail: true }).stdout?.trim(),
          uncommittedFiles: (sh(`git -C ${JSON.stringify(rootDir)} status --porcelain -- packages`, { allowFail: true }).stdout ?? '').split('\n').filter(Boolean).length,
        }
      : {}),
  };
}
