// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per file.
import { readFileSync } from 'node:fs';

/**
 * `paths`: one .cpuprofile or several (node --cpu-prof writes one per thread: the main thread and
 * each worker); their samples are added up. Self time is wall-clock sampled, so "(idle)" is time
 * the thread waited (for the libuv thread pool, a worker, or the disk).
 */
export function summariseProfile(paths, { top = 15, root = '' } = {}) {
  const selfByFrame = [];
  for (const path of Array.isArray(paths) ? paths : [paths]) {
    const prof = JSON.parse(readFileSync(path, 'utf8'));
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const selfUs = new Map();
    const { samples, timeDeltas } = prof;
    for (let i = 0; i < samples.length; i++) {
      // timeDeltas[i] is the time before sample i; attribute the following delta to sample i
      const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
      selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
    }
    for (const [id, us] of selfUs) selfByFrame.push([byId.get(id).callFrame, us]);
  }
  const total = selfByFrame.reduce((a, [, us]) => a + us, 0);
  const shorten = (url) => {
    let u = url.replace(/^file:\/\//, '');
    if (root && u.startsWith(root)) u = u.slice(root.length).replace(/^\//, '');
    u = u.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, 'node_modules/');
    return u;
  };
  const fnAgg = new Map();
  const fileAgg = new Map();
  for (const [cf, us] of selfByFrame) {
    const file = cf.url ? shorten(cf.url) : '(native/VM)';
    const name = cf.functionName || '(anonymous)';
    const key = cf.url ? `${name} ${file}:${cf.lineNumber + 1}` : name;
    fnAgg.set(key, (fnAgg.get(key) ?? 0) + us);
    const fkey = cf.url ? file : name.startsWith('(') ? name : `(native) ${name}`;
    fileAgg.set(fkey, (fileAgg.get(fkey) ?? 0) + us);
  }
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ name: k, ms: +(us / 1000).toFixed(1), pct: +((100 * us) / total).toFixed(1) }));
  return { totalMs: +(total / 1000).toFixed(1), functions: rank(fnAgg), files: rank(fileAgg) };
}

export function formatSummary(label, s) {
  const lines = [`${label}: ${s.totalMs} ms sampled`];
  lines.push('  top self time (functions):');
  for (const f of s.functions) lines.push(`    ${String(f.pct).padStart(5)} %  ${String(f.ms).padStart(8)} ms  ${f.name}`);
  lines.push('  top self time (files):');
  for (const f of s.files.slice(0, 8)) lines.push(`    ${String(f.pct).padStart(5)} %  ${String(f.ms).padStart(8)} ms  ${f.name}`);
  return lines.join('\n');
}
