import { hasRevisions, Repo, shellQuote, status, TdvcError } from '@tdvc/core';
import { printJson, say, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { scopeOf, type RevisionFlags } from '../revisions.js';

export async function runStatus(g: OutputOptions & RevisionFlags & { remote?: string | boolean }, paths: string[]): Promise<void> {
  const scope = scopeOf(g);
  if (g.remote === undefined && hasRevisions(scope)) {
    throw new TdvcError('EUSAGE', '--rev, --all-branches, --all-tags and --all-commits need --remote: status compares the workspace with its pointer files', {
      exitCode: 2,
      hint: "'tdvc status -r --all-tags' shows what the remote lacks for every tag",
    });
  }
  const repo = await Repo.open();
  if (g.remote !== undefined) {
    const { runRemoteStatus } = await import('./sync.js');
    return runRemoteStatus(g, repo, typeof g.remote === 'string' ? g.remote : undefined, paths, scope);
  }
  const bar = createProgress(!g.quiet && !g.json);
  let res;
  try {
    res = await status(repo, paths, { onProgress: (p) => bar.update(`${p.phase} ${p.path}`, p.done, p.total) });
  } finally {
    bar.stop();
  }
  if (g.json) return printJson(res);
  if (res.datasets.length === 0) return say(g, "no tracked data (track some with 'tdvc add PATH')");
  for (const d of res.datasets) {
    if (d.state === 'clean' && d.notInCache.length === 0) continue;
    if (d.state === 'manifest-missing') {
      say(g, `${d.path}: file list not in the cache (run: tdvc pull ${shellQuote(d.path)})`);
      continue;
    }
    if (d.state === 'not-in-workspace') say(g, `${d.path}: not in the workspace (run: tdvc checkout ${shellQuote(d.path)})`);
    if (d.added.length + d.modified.length + d.deleted.length > 0) {
      say(g, `${d.path}: changed (to record: tdvc add ${shellQuote(d.path)}; to undo: tdvc checkout ${shellQuote(d.path)})`);
      for (const p of d.added) say(g, `\tadded:    ${p}`);
      for (const p of d.modified) say(g, `\tmodified: ${p}`);
      for (const p of d.deleted) say(g, `\tdeleted:  ${p}`);
    }
    if (d.interrupted.length > 0) {
      say(g, `${d.path}: ${d.interrupted.length} file(s) left unfinished by an interrupted checkout (to finish it: tdvc checkout ${shellQuote(d.path)})`);
      for (const p of d.interrupted.slice(0, 20)) say(g, `\tunfinished: ${p}`);
    }
    if (d.notInCache.length > 0) {
      say(g, `${d.path}: ${d.notInCache.length} file(s) not in the cache (run: tdvc fetch ${shellQuote(d.path)})`);
      for (const p of d.notInCache.slice(0, 20)) say(g, `\tnot in cache: ${p}`);
    }
  }
  if (res.clean) say(g, 'data and pointer files are up to date');
}
