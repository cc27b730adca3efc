import { ExitCode, forgetProject, forgetWorkspace, fsck, gc, Repo } from '@tdvc/core';
import { err, formatBytes, printJson, say, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { openRemoteByUrl } from '../remotes.js';

type GcOpts = OutputOptions & {
  workspace?: boolean;
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
  remote?: string;
  force?: boolean;
  dryRun?: boolean;
  grace?: number;
  forgetProject?: string;
  forgetWorkspace?: string;
};

export async function runGc(g: GcOpts): Promise<number | void> {
  const repo = await Repo.open();
  if (g.forgetProject !== undefined) {
    const gone = await forgetProject(repo.cacheDir, g.forgetProject);
    say(g, gone ? `project ${g.forgetProject} unregistered` : `no project ${g.forgetProject} is registered`);
    return gone ? ExitCode.ok : ExitCode.error;
  }
  if (g.forgetWorkspace !== undefined) {
    const gone = await forgetWorkspace(repo.cacheDir, g.forgetWorkspace);
    say(g, gone ? `workspace ${g.forgetWorkspace} forgotten: gc no longer keeps its data` : `no workspace ${g.forgetWorkspace} has a record in this cache`);
    return gone ? ExitCode.ok : ExitCode.error;
  }
  const res = await gc(repo, {
    ...(g.workspace ? { workspace: true } : {}),
    ...(g.allBranches ? { allBranches: true } : {}),
    ...(g.allTags ? { allTags: true } : {}),
    ...(g.allCommits ? { allCommits: true } : {}),
    ...(g.remote ? { remote: g.remote, opener: openRemoteByUrl } : {}),
    ...(g.force && !g.dryRun ? { force: true } : {}),
    ...(g.grace !== undefined ? { graceMs: g.grace * 1000 } : {}),
  });
  if (g.json) return printJson(res);
  const verb = res.dryRun ? 'would remove' : 'removed';
  for (const r of res.removed.slice(0, 200)) say(g, `${verb} ${r.oid} (${formatBytes(r.size)})`);
  if (res.removed.length > 200) say(g, `… and ${res.removed.length - 200} more`);
  say(g, `${verb} ${res.removed.length} object(s), ${formatBytes(res.bytes)} from ${res.where}; kept ${res.referenced} referenced by ${res.projects.length} project(s)${res.keptRecent ? `, ${res.keptRecent} written within the grace period` : ''}`);
  if (res.workspaces && res.workspaces.length > 0) say(g, `also kept what ${res.workspaces.length} other workspace(s) using this cache reference (their published records)`);
  for (const id of res.staleWorkspaces ?? []) {
    const w = res.workspaces!.find((x) => x.id === id)!;
    say(g, `workspace ${id} (${w.host}:${w.root}) was last seen ${w.lastSeen}: its data is still kept; if it is gone for good: tdvc gc --forget-workspace ${id}`);
  }
  if (res.dryRun && res.removed.length > 0) say(g, 'nothing was deleted: run again with --force to delete');
}

export async function runFsck(g: OutputOptions & { remote?: string; jobs?: number }): Promise<number> {
  const repo = await Repo.open();
  const bar = createProgress(!g.quiet && !g.json);
  let res;
  try {
    res = await fsck(repo, {
      ...(g.remote ? { remote: g.remote, opener: openRemoteByUrl } : {}),
      ...(g.jobs ? { jobs: g.jobs } : {}),
      onProgress: (done, total) => bar.update('checking', done, total),
    });
  } finally {
    bar.stop();
  }
  if (g.json) printJson(res);
  else {
    for (const c of res.corrupt) err(`corrupt: ${c.oid} (content hashes to ${c.found})${c.quarantinedAs ? `, moved to ${c.quarantinedAs}` : ''}`);
    for (const t of res.removedTemps) say(g, `removed what a killed writer left: ${t}`);
    for (const p of res.skipped ?? []) err(`error: not tdvc's, left in place and not checked (a folder where an object belongs, or a link or file where a cache folder belongs): ${p}`);
    for (const r of res.rejected ?? []) err(`error: ${r.oid ? 'not an object' : "not tdvc's"}, left in place: ${r.path} (${r.reason}${r.oid ? `, where object ${r.oid} belongs` : ''})`);
    const notObjects = (res.skipped?.length ?? 0) + (res.rejected?.length ?? 0);
    say(g, `${res.checked} object(s) checked in ${res.where}: ${res.corrupt.length} corrupt, ${notObjects > 0 ? `${notObjects} ${notObjects === 1 ? 'entry that is not an object' : 'entries that are not objects'}, ` : ''}${res.removedTemps.length} leftover(s) of killed writers removed`);
    if (res.corrupt.length > 0) err("hint: fetch the corrupt objects again ('tdvc fetch') or re-add the original files");
    if ((res.rejected ?? []).length > 0) {
      err("hint: tdvc never deletes or replaces what it did not write: look at what each is, remove it from the remote yourself, then run 'tdvc push' again");
    }
    if ((res.skipped ?? []).length > 0) {
      err("hint: tdvc never moves or deletes what it did not make: look at what each holds, move it out of the cache yourself, then run 'tdvc pull' (or re-add the original files)");
    }
  }
  return res.ok && res.removedTemps.length === 0 ? ExitCode.ok : ExitCode.integrity;
}
