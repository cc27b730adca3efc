import { checkout, ExitCode, GitRepo, Repo, resolveConflict, switchTo, TdvcError, type CheckoutResult } from '@tdvc/core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { err, printJson, reportRejected, say, warn, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';

type CheckoutOpts = OutputOptions & { force?: boolean; jobs?: number; rev?: string; ours?: boolean; theirs?: boolean; dryRun?: boolean };

/**
 * `tdvc checkout [REV] [-- PATH...]`. As in Git, `--` separates a revision from paths; without it
 * a single argument that names a revision and no existing path is a revision.
 */
export async function runCheckout(g: CheckoutOpts, args: string[]): Promise<number> {
  const repo = await Repo.open();
  const dash = process.argv.indexOf('--');
  const beforeDash = dash < 0 ? args : args.slice(0, args.length - (process.argv.length - dash - 1));
  const afterDash = dash < 0 ? [] : args.slice(beforeDash.length);
  let rev: string | undefined;
  let paths = afterDash;
  if (dash >= 0) {
    if (beforeDash.length > 1) throw new TdvcError('EUSAGE', 'give at most one revision before --', { exitCode: ExitCode.usage });
    rev = beforeDash[0];
  } else if (args.length === 1 && repo.hasGit && !existsSync(resolve(args[0]!)) && !existsSync(resolve(args[0]! + '.tdvc'))) {
    const g = new GitRepo(repo.root);
    if (await g.tryResolve(args[0]!)) rev = args[0];
    else if (/^HEAD([~^]\d*)*$/.test(args[0]!)) await g.resolve(args[0]!); // throws: says why (e.g. no commits yet)
    else paths = args;
  } else {
    paths = args;
  }
  if (g.ours || g.theirs) {
    if (g.ours && g.theirs) throw new TdvcError('EUSAGE', 'choose one of --ours and --theirs', { exitCode: ExitCode.usage });
    const res = await resolveConflict(repo, g.ours ? 'ours' : 'theirs', paths, { ...(g.force ? { force: true } : {}), ...(g.jobs ? { jobs: g.jobs } : {}) });
    if (g.json) printJson(res);
    else say(g, `resolved ${res.resolved.length} conflict(s) with ${g.ours ? 'our' : 'their'} version${res.remaining ? `; ${res.remaining} left` : ''}; now: git add the pointer file(s) and commit`);
    return res.remaining > 0 ? ExitCode.error : ExitCode.ok;
  }
  const bar = createProgress(!g.quiet && !g.json);
  let res: CheckoutResult;
  try {
    if (rev !== undefined && paths.length === 0 && g.rev === undefined && !g.dryRun) {
      const sw = await switchTo(repo, rev, g.force ? { force: true } : {});
      say(g, `switched to ${sw.branch ?? sw.commit.slice(0, 12)}`);
      res = sw.checkout;
    } else {
      res = await checkout(repo, paths, {
        ...(g.force ? { force: true } : {}),
        ...(g.jobs ? { jobs: g.jobs } : {}),
        ...(g.dryRun ? { dryRun: true } : {}),
        ...((g.rev ?? rev) !== undefined ? { rev: (g.rev ?? rev)! } : {}),
        onProgress: (p) => bar.update(`${p.phase} ${p.path}`, p.done, p.total),
      });
    }
  } finally {
    bar.stop();
  }
  const missing = res.datasets.flatMap((d) => d.missing);
  const rejected = g.json ? res.datasets.reduce((n, d) => n + (d.rejected?.length ?? 0), 0) : reportRejected(res);
  if (g.json) printJson(res);
  else {
    for (const f of repo.config.get('cache.type') !== undefined ? res.fellBack : []) warn(`cannot ${f.from} here (${f.reason}); using ${f.to}`);
    for (const d of res.datasets) {
      if (d.written + d.removed > 0) say(g, `${d.path}: ${d.written} ${g.dryRun ? 'to write' : 'written'}, ${d.removed} ${g.dryRun ? 'to remove' : 'removed'}, ${d.unchanged} unchanged`);
    }
    if (missing.length > 0) {
      err(`error: ${missing.length} file(s) could not be checked out because their data is not in the cache:`);
      for (const p of missing.slice(0, 20)) err(`  ${p}`);
      err("hint: run 'tdvc pull' to fetch them from a remote");
    }
  }
  return missing.length > 0 || rejected > 0 ? ExitCode.integrity : ExitCode.ok;
}
