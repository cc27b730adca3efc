import { diff, ExitCode, install, lsFiles, merge, Repo, runMergeDriver as mergeDriver, TdvcError } from '@tdvc/core';
import { isRepoUrl } from './registry.js';
import { err, formatBytes, LineOut, printJson, say, type OutputOptions } from '../output.js';

export async function runDiff(g: OutputOptions, revA: string | undefined, revB: string | undefined): Promise<void> {
  const res = await diff(await Repo.open(), revA ?? 'HEAD', revB);
  if (g.json) return printJson(res);
  if (res.datasets.length === 0) return say(g, `no data changes between ${res.from} and ${res.to}`);
  for (const d of res.datasets) {
    say(g, `${d.path}: ${d.added.length} added, ${d.modified.length} modified, ${d.deleted.length} deleted`);
    for (const f of d.added) say(g, `\tadded:    ${f.path} (${formatBytes(f.size)})`);
    for (const f of d.modified) say(g, `\tmodified: ${f.path} (${formatBytes(f.oldSize)} -> ${formatBytes(f.newSize)})`);
    for (const f of d.deleted) say(g, `\tdeleted:  ${f.path} (${formatBytes(f.size)})`);
  }
}

/** `tdvc ls [PATH]` in this repository, or `tdvc ls URL [PATH]` in another one (see registry.ts). */
export async function runLs(g: OutputOptions & { rev?: string; long?: boolean }, first: string | undefined, second: string | undefined): Promise<void> {
  if (first !== undefined && isRepoUrl(first)) {
    const { withView } = await import('./registry.js');
    return withView(first, g.rev, (view) => printFiles(g, view.files(second ?? '')));
  }
  if (second !== undefined) throw new TdvcError('EUSAGE', `tdvc ls takes one PATH here (${second}?); a second one follows a repository URL: tdvc ls URL PATH`, { exitCode: 2 });
  await printFiles(g, lsFiles(await Repo.open(), { ...(g.rev ? { rev: g.rev } : {}), ...(first ? { path: first } : {}) }));
}

/** A listing, streamed: millions of files are never held in memory. */
async function printFiles(g: OutputOptions & { long?: boolean }, files: AsyncIterable<Array<{ path: string; oid: string; size: number }>>): Promise<void> {
  // streamed: a listing of millions of files is never held in memory
  const out = new LineOut();
  // JSON: one element per line, each written once the next one (or the end) is known
  let held: string | undefined;
  let opened = false;
  for await (const batch of files) {
    if (out.closed) break;
    for (const f of batch) {
      if (!g.json) {
        if (out.push(g.long ? `${f.oid}  ${String(f.size).padStart(12)}  ${f.path}` : f.path)) await out.flush();
        continue;
      }
      if (!opened) await out.line('[');
      opened = true;
      if (held !== undefined) await out.line(`  ${held},`);
      held = JSON.stringify(f);
    }
  }
  if (g.json) {
    if (!opened) await out.line('[');
    if (held !== undefined) await out.line(`  ${held}`);
    await out.line(']');
  }
  await out.flush();
}

export async function runInstall(g: OutputOptions): Promise<void> {
  const command = `'${process.execPath.replace(/'/g, `'\\''`)}' '${process.argv[1]!.replace(/'/g, `'\\''`)}'`;
  const res = await install(await Repo.open(), { command });
  for (const h of res.hooks) say(g, `hook ${h.name}: ${h.action}`);
  say(g, `merge driver for *.tdvc: ${res.mergeDriver ? 'registered in .git/config' : 'already registered'}${res.gitattributes ? ' (.gitattributes updated: commit it)' : ''}`);
}

export async function runMerge(g: OutputOptions, branch: string): Promise<number> {
  const res = await merge(await Repo.open(), branch);
  if (g.json) printJson(res);
  else if (res.conflicts.length > 0) {
    for (const c of res.conflicts) err(`${c.message}`);
  } else if (res.alreadyMerged) say(g, `already up to date with ${branch}`);
  else say(g, `merged ${branch}${res.fastForward ? ' (fast-forward)' : ''}`);
  return res.conflicts.length > 0 || res.commit === undefined && !res.alreadyMerged ? ExitCode.error : ExitCode.ok;
}

/** Called by Git as `tdvc merge-driver %O %A %B %P`; a non-zero exit marks the file conflicted. */
export async function runMergeDriver(_g: OutputOptions, ancestor: string, ours: string, theirs: string, path: string | undefined): Promise<number> {
  const repo = await Repo.open();
  const res = await mergeDriver(repo, ancestor, ours, theirs, path ?? ours);
  if (!res.clean && res.message) err(`${res.message}`);
  return res.clean ? ExitCode.ok : ExitCode.error;
}
