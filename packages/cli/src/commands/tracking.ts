import { du, move, remove, Repo, shellQuote, unprotect } from '@tdvc/core';
import { formatBytes, printJson, say, type OutputOptions } from '../output.js';

function gitignoreOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.gitignore' : `${path.slice(0, slash)}/.gitignore`;
}

export async function runRemove(g: OutputOptions & { delete?: boolean; force?: boolean }, paths: string[]): Promise<void> {
  const repo = await Repo.open();
  const removed = await remove(repo, paths, { ...(g.delete ? { delete: true } : {}), ...(g.force ? { force: true } : {}) });
  if (g.json) return printJson({ removed });
  for (const r of removed) say(g, `removed ${r.pointerPath}${r.deleted ? ` and deleted ${r.path}` : ` (${r.path} is kept, no longer tracked)`}`);
  if (repo.hasGit && removed.length > 0) {
    const files = removed.flatMap((r) => [r.pointerPath, gitignoreOf(r.path)]);
    say(g, `To record this in Git:\n  git add -A -- ${[...new Set(files)].map(shellQuote).join(' ')}`);
  }
}

export async function runMove(g: OutputOptions, src: string, dst: string): Promise<void> {
  const repo = await Repo.open();
  const res = await move(repo, src, dst);
  if (g.json) return printJson(res);
  say(g, `moved ${res.from} to ${res.to}${res.dataMoved ? '' : ' (pointer only: the data was not in the workspace)'}`);
  if (repo.hasGit) {
    // a move inside a dataset changes its pointer only
    const files = res.fromPointer === res.toPointer ? [res.toPointer] : [res.fromPointer, res.toPointer, gitignoreOf(res.from), gitignoreOf(res.to)];
    say(g, `To record this in Git:\n  git add -A -- ${[...new Set(files)].map(shellQuote).join(' ')}`);
  }
}

export async function runUnprotect(g: OutputOptions, paths: string[]): Promise<void> {
  const res = await unprotect(await Repo.open(), paths);
  if (g.json) return printJson({ datasets: res });
  for (const d of res) {
    const parts = [`${d.copied} file(s) now writable copies`];
    if (d.alreadyCopies > 0) parts.push(`${d.alreadyCopies} already copies`);
    if (d.missing > 0) parts.push(`${d.missing} not in the workspace`);
    say(g, `${d.path}: ${parts.join(', ')}`);
    for (const l of d.otherLinks) say(g, `\tleft alone: ${l} (a symbolic link, not to its cache object)`);
  }
}

export async function runDu(g: OutputOptions & { rev?: string }, path: string | undefined): Promise<void> {
  const res = await du(await Repo.open(), { ...(g.rev ? { rev: g.rev } : {}), ...(path !== undefined ? { path } : {}) });
  if (g.json) return printJson(res);
  const size = (n: number): string => formatBytes(n).padStart(10);
  for (const d of res.datasets) {
    const dedup = d.uniqueBytes !== d.bytes ? ` (${formatBytes(d.uniqueBytes)} unique)` : '';
    say(g, `${size(d.bytes)}  ${String(d.files).padStart(9)} files  ${d.path}${dedup}`);
  }
  say(g, `${size(res.bytes)}  ${String(res.files).padStart(9)} files  total; ${formatBytes(res.uniqueBytes)} in ${res.objects} distinct object(s)`);
}
