import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { entryExists, importData, Repo, RevisionView, TdvcError, uniqueTempName, updateImports, type ImportResult } from '@tdvc/core';
import { openRemoteByUrl } from '../remotes.js';
import { printJson, say, type OutputOptions } from '../output.js';

/** A repository given by URL (smart HTTP(S)): what `tdvc ls URL` and `tdvc get URL` read. */
export function isRepoUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Opens the repository at `url` and `rev` for `use`, and closes it (its fetched revision removed) after. */
export async function withView<T>(url: string, rev: string | undefined, use: (view: RevisionView) => Promise<T>): Promise<T> {
  const view = await RevisionView.open(url, { ...(rev ? { rev } : {}), opener: openRemoteByUrl });
  try {
    return await use(view);
  } finally {
    await view.close();
  }
}

/**
 * `tdvc get URL PATH [--rev REV] [-o OUT]`: downloads the files of PATH (a dataset, a folder in
 * one, or one file) of another repository's revision, untracked, each verified as it arrives.
 * Everything is written into a temp folder beside OUT and renamed into place at the end: a failed
 * get leaves nothing, and an OUT that exists is refused (nothing is overwritten).
 */
export async function runGet(g: OutputOptions & { rev?: string; out?: string }, url: string, path: string): Promise<void> {
  if (!isRepoUrl(url)) throw new TdvcError('EUSAGE', `tdvc get reads another repository by URL (http:// or https://), not ${url}`, { exitCode: 2 });
  const out = resolve(g.out ?? basename(path));
  if (entryExists(out)) throw new TdvcError('EBLOCKED', `${out} exists: tdvc get writes only a new file or folder`, { path: out, hint: 'remove it or choose another with -o' });
  await withView(url, g.rev, async (view) => {
    const tmp = join(dirname(out), uniqueTempName('tdvc-get'));
    mkdirSync(tmp);
    let files = 0;
    let bytes = 0;
    let single = false;
    try {
      const prefix = path.replace(/\.tdvc$/, '');
      for await (const batch of view.files(path)) {
        await view.readMany(batch, async (f, stream) => {
          // a path of the listing below PATH (manifest paths are checked when parsed: no '..', no absolute)
          const rel = f.path === prefix ? basename(f.path) : f.path.slice(prefix.length + 1);
          single ||= f.path === prefix;
          const dest = join(tmp, ...rel.split('/'));
          mkdirSync(dirname(dest), { recursive: true });
          await pipeline(stream, createWriteStream(dest, { flags: 'wx', mode: 0o644 }));
          files++;
          bytes += f.size;
        });
      }
      renameSync(single ? join(tmp, basename(prefix)) : tmp, out);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    say(g, `${files} file(s), ${bytes} bytes of ${path} at ${view.rev} (${view.commit.slice(0, 12)}) written to ${out}`);
  });
}

/** `tdvc import URL PATH [--rev REV] [-o OUT]` (see core's importData). */
export async function runImport(g: OutputOptions & { rev?: string; out?: string }, url: string, path: string): Promise<void> {
  if (!isRepoUrl(url)) throw new TdvcError('EUSAGE', `tdvc import reads another repository by URL (http:// or https://), not ${url}`, { exitCode: 2 });
  const res = await importData(await Repo.open(), openRemoteByUrl, url, path, { ...(g.rev ? { rev: g.rev } : {}), ...(g.out ? { out: g.out } : {}) });
  if (g.json) return printJson(res);
  say(g, `imported ${describe(res)}; commit ${res.pointerPath} (and .gitignore) to record it`);
}

/** `tdvc update [PATH...] [--rev REV]` (see core's updateImports). */
export async function runUpdate(g: OutputOptions & { rev?: string }, paths: string[]): Promise<void> {
  const res = await updateImports(await Repo.open(), openRemoteByUrl, paths, g.rev ? { rev: g.rev } : {});
  if (g.json) return printJson(res);
  if (res.length === 0) return say(g, 'no imports here');
  for (const r of res) say(g, r.changed ? `updated ${describe(r)}` : `${r.path} is up to date (${r.source.repoPath} at ${r.source.commit.slice(0, 12)})`);
}

function describe(r: ImportResult): string {
  const at = `${r.source.rev ?? 'default branch'} = ${r.source.commit.slice(0, 12)}`;
  return `${r.path}: ${r.files} file(s), ${r.bytes} bytes from ${r.source.repo} ${r.source.repoPath} at ${at} (${r.fetched} object(s) downloaded)`;
}
