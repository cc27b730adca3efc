import { ExitCode, fetch, getUrls, listRemotes, pull, push, remoteStatus, Repo, type CheckoutResult, type RevisionScope, type SyncResult } from '@tdvc/core';
import { err, formatBytes, out, printJson, reportRejected, say, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { openRemoteByUrl } from '../remotes.js';
import { scopeOf, type RevisionFlags } from '../revisions.js';

type SyncOpts = OutputOptions & RevisionFlags & { remote?: string; jobs?: number; force?: boolean; ifRemote?: boolean; dryRun?: boolean };

export function syncCommand(name: 'push' | 'fetch' | 'pull') {
  return async (g: SyncOpts, paths: string[]): Promise<number> => {
    const repo = await Repo.open();
    if (g.ifRemote && !g.remote && listRemotes(repo).every((r) => !r.isDefault)) return ExitCode.ok;
    const bar = createProgress(!g.quiet && !g.json);
    const opts = {
      ...(g.remote ? { remote: g.remote } : {}),
      ...(g.jobs ? { jobs: g.jobs } : {}),
      ...(g.force ? { force: true } : {}),
      ...(g.dryRun && name !== 'pull' ? { dryRun: true } : {}),
      ...(name !== 'pull' ? { scope: scopeOf(g) } : {}),
      onProgress: (p: { phase: string; done: number; total: number; bytes: number; totalBytes: number }) =>
        bar.update(p.phase === 'upload' ? 'uploading' : 'downloading', p.done, p.total, p.bytes, p.totalBytes),
    };
    let transfer: SyncResult;
    let extra: unknown;
    let handedOver = 0;
    try {
      if (name === 'push') transfer = await push(repo, openRemoteByUrl, paths, opts);
      else if (name === 'fetch') transfer = await fetch(repo, openRemoteByUrl, paths, opts);
      else {
        const res = await pull(repo, openRemoteByUrl, paths, opts);
        transfer = res.fetch;
        extra = res.checkout;
        handedOver = res.checkout.datasets.reduce((n, d) => n + (d.handedOver ?? 0), 0);
      }
    } finally {
      bar.stop();
    }
    if (g.json) printJson({ ...transfer, ...(extra ? { checkout: extra } : {}) });
    else {
      const verb = name === 'push' ? 'uploaded' : 'downloaded';
      const would = transfer.wouldTransfer;
      if (would) {
        say(g, `would ${verb.slice(0, -2)} ${would.objects} object(s) (${formatBytes(would.bytes)}${would.manifests ? `, ${would.manifests} of them file lists` : ''}), ${transfer.skipped} already there, remote ${transfer.remote}; nothing was moved`);
        if (transfer.unknownVersions) say(g, `${transfer.unknownVersions} folder version(s) have no file list in the cache yet: their files are not counted (a real fetch gets the lists first)`);
      } else say(g, `${transfer.transferred} object(s) ${verb} (${formatBytes(transfer.bytes)}), ${transfer.skipped} already there, remote ${transfer.remote}`);
      if (handedOver > 0) say(g, `${handedOver} large file(s) moved into the workspace instead of copied: the workspace file is their only local copy`);
      if (transfer.failed.length > 0) {
        err(`error: ${transfer.failed.length} object(s) failed:`);
        for (const f of transfer.failed.slice(0, 20)) err(`  ${f.oid}: ${f.code} ${f.message}`);
      }
    }
    const rejected = extra ? (g.json ? (extra as CheckoutResult).datasets.reduce((n, d) => n + (d.rejected?.length ?? 0), 0) : reportRejected(extra as CheckoutResult)) : 0;
    if (transfer.failed.length > 0) return ExitCode.transfer;
    return rejected > 0 ? ExitCode.integrity : ExitCode.ok;
  };
}

export async function runRemoteStatus(g: OutputOptions, repo: Repo, remote: string | undefined, paths: string[], scope: RevisionScope = {}): Promise<void> {
  const res = await remoteStatus(repo, openRemoteByUrl, paths, { ...(remote ? { remote } : {}), scope });
  if (g.json) return printJson(res);
  let clean = true;
  for (const d of res.datasets) {
    const name = d.rev === undefined ? d.path : `${d.path} at ${d.rev}`;
    const show = (label: string, list: string[]): void => {
      if (list.length === 0) return;
      clean = false;
      say(g, `${name}: ${list.length} file(s) ${label}`);
      for (const p of list.slice(0, 20)) say(g, `\t${p}`);
      if (list.length > 20) say(g, `\t… and ${list.length - 20} more`);
    };
    show(`not pushed to ${res.remote} (run 'tdvc push')`, d.notPushed);
    show(`on ${res.remote} but not in the cache (run 'tdvc fetch')`, d.notFetched);
    show('in neither the cache nor the remote', d.lost);
    if (d.manifestNotPushed && d.notPushed.length === 0) {
      clean = false;
      say(g, `${name}: its folder manifest is not on ${res.remote}, so the remote cannot serve this version (run 'tdvc push'; if push fails, it names what is in the way)`);
    }
  }
  if (clean) say(g, `cache and remote ${res.remote} are in sync for the tracked data`);
}

export async function runGetUrl(g: OutputOptions & { rev?: string; remote?: string; presign?: number }, path: string): Promise<void> {
  const urls = await getUrls(await Repo.open(), openRemoteByUrl, path, {
    ...(g.rev ? { rev: g.rev } : {}),
    ...(g.remote ? { remote: g.remote } : {}),
    ...(g.presign !== undefined ? { presignSeconds: g.presign } : {}),
  });
  if (g.json) return printJson(urls);
  for (const u of urls) out(urls.length === 1 ? u.url : `${u.path}\t${u.url}`);
}
