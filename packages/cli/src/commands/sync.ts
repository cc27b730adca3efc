import { ExitCode, fetch, listRemotes, pull, push, Repo, type SyncResult } from '@tdvc/core';
import { formatBytes, printJson, say, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { openRemoteByUrl } from '../remotes.js';

type SyncOpts = OutputOptions & { remote?: string; jobs?: number; force?: boolean; ifRemote?: boolean };

export function syncCommand(name: 'push' | 'fetch' | 'pull') {
  return async (g: SyncOpts, paths: string[]): Promise<number> => {
    const repo = await Repo.open();
    if (g.ifRemote && !g.remote && listRemotes(repo).every((r) => !r.isDefault)) return ExitCode.ok;
    const bar = createProgress(!g.quiet && !g.json);
    const opts = {
      ...(g.remote ? { remote: g.remote } : {}),
      ...(g.jobs ? { jobs: g.jobs } : {}),
      ...(g.force ? { force: true } : {}),
      onProgress: (p: { phase: string; done: number; total: number; bytes: number; totalBytes: number }) =>
        bar.update(p.phase === 'upload' ? 'uploading' : 'downloading', p.done, p.total, p.bytes, p.totalBytes),
    };
    let transfer: SyncResult;
    let extra: unknown;
    try {
      if (name === 'push') transfer = await push(repo, openRemoteByUrl, paths, opts);
      else if (name === 'fetch') transfer = await fetch(repo, openRemoteByUrl, paths, opts);
      else {
        const res = await pull(repo, openRemoteByUrl, paths, opts);
        transfer = res.fetch;
        extra = res.checkout;
      }
    } finally {
      bar.stop();
    }
    if (g.json) printJson({ ...transfer, ...(extra ? { checkout: extra } : {}) });
    else {
      const verb = name === 'push' ? 'uploaded' : 'downloaded';
      say(g, `${transfer.transferred} object(s) ${verb} (${formatBytes(transfer.bytes)}), ${transfer.skipped} already there, remote ${transfer.remote}`);
      if (transfer.failed.length > 0) {
        process.stderr.write(`error: ${transfer.failed.length} object(s) failed:\n`);
        for (const f of transfer.failed.slice(0, 20)) process.stderr.write(`  ${f.oid}: ${f.code} ${f.message}\n`);
      }
    }
    return transfer.failed.length > 0 ? ExitCode.transfer : ExitCode.ok;
  };
}
