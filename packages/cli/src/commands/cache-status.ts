import { cacheStatus, Repo, type CacheStatus, type CacheWorkspace } from '@tdvc/core';
import { formatBytes, printJson, say, type OutputOptions } from '../output.js';

type CacheStatusOpts = OutputOptions & { grace?: number };

/** `tdvc cache status`: the workspaces using this cache, what each references, what gc would free. */
export async function runCacheStatus(g: CacheStatusOpts): Promise<void> {
  const repo = await Repo.open();
  const st = await cacheStatus(repo, g.grace !== undefined ? { graceMs: g.grace * 1000 } : {});
  if (g.json) return printJson(st);
  for (const line of renderCacheStatus(st)) say(g, line);
}

export function renderCacheStatus(st: CacheStatus): string[] {
  const out: string[] = [];
  out.push(`cache ${st.cacheDir} (${st.shared === 'group' ? 'shared with the group' : 'private'}): ${count(st.objects)} object(s), ${formatBytes(st.bytes)}`);
  out.push('');
  out.push(`${st.workspaces.length} workspace(s) use it:`);
  const rows = [['', 'ID', 'HOST', 'USER', 'PATH', 'LAST SEEN', 'VERSIONS', 'OBJECTS', 'SIZE'], ...st.workspaces.map(row)];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out.push(r.map((c, i) => (i >= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const notes = st.workspaces.filter((w) => w.unknownVersions > 0);
  for (const w of notes) out.push(`  ${w.id}: ${w.unknownVersions} folder version(s) whose file list is not in this cache (not counted)`);
  const stale = st.workspaces.filter((w) => w.stale);
  if (stale.length > 0) {
    out.push(`  * not seen for over 30 days: gc still keeps their data; drop one gone for good with 'tdvc gc --forget-workspace ID'`);
  }
  out.push('');
  const writers = st.writers.map((w) => `${w.purpose} by ${w.owner}@${w.host} (pid ${w.pid}, since ${w.startedAt})`);
  out.push(writers.length > 0 ? `writing now: ${writers.join('; ')}` : 'writing now: nothing');
  if (st.gc) out.push(`gc running: ${st.gc.purpose} by ${st.gc.owner}@${st.gc.host} (pid ${st.gc.pid}, since ${st.gc.startedAt})`);
  const f = st.gcWouldFree;
  if (f) {
    const recent = f.keptRecent > 0 ? `; ${count(f.keptRecent)} more (${formatBytes(f.keptRecentBytes)}) are unreferenced but newer than the ${f.graceMs / 1000} s grace period` : '';
    out.push(`gc --workspace --all-branches --all-tags --force would free ${count(f.objects)} object(s), ${formatBytes(f.bytes)}${recent}`);
  } else {
    out.push(`gc would refuse: ${st.gcRefusal ?? 'unknown reason'}`);
  }
  return out;
}

function row(w: CacheWorkspace): string[] {
  return [
    w.current ? '>' : w.stale ? '*' : '',
    w.id,
    w.host,
    w.user,
    w.root,
    w.current ? 'now (this one)' : age(w.ageMs),
    count(w.versions),
    count(w.objects),
    formatBytes(w.bytes),
  ];
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
