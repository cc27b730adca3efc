import { importDvc } from '@tdvc/core';
import { formatBytes, printJson, say, type OutputOptions } from '../output.js';

/** `tdvc import-dvc [--remove-dvc-files] [--remote-dir DIR] [--history] [-j N]` (see core's importDvc). */
export async function runImportDvc(g: OutputOptions & { removeDvcFiles?: boolean; remoteDir?: string; jobs?: number; history?: boolean }): Promise<void> {
  const started = Date.now();
  const res = await importDvc({
    ...(g.removeDvcFiles ? { removeDvcFiles: true } : {}),
    ...(g.remoteDir !== undefined ? { remoteDir: g.remoteDir } : {}),
    ...(g.jobs !== undefined ? { jobs: g.jobs } : {}),
    ...(g.history ? { history: true } : {}),
  });
  if (g.json) return printJson(res);
  for (const c of res.converted) {
    say(g, `converted ${c.path} (${c.type === 'dir' ? `${c.files} files, ` : ''}${formatBytes(c.bytes)}) from ${c.from} -> ${c.pointerPath}`);
  }
  const secs = (Date.now() - started) / 1000;
  say(g, `${res.converted.length} output(s), ${res.files} file(s), ${formatBytes(res.bytes)} read once, md5-verified, stored as ${res.objectsStored} new object(s) in ${secs.toFixed(1)} s`);
  if (res.history) {
    const h = res.history;
    say(g, `history: ${h.commits} commit(s), ${h.outputs} output version(s), ${h.inCache} in the tdvc cache (${h.objectsStored} new object(s))${h.missing > 0 ? `, ${h.missing} missing (see below)` : ''}`);
  }
  for (const s of res.settings) say(g, `setting ${s.key} = ${s.value}${s.level === 'local' ? ' (local)' : ''}`);
  if (res.removedDvcFiles.length > 0) say(g, `removed ${res.removedDvcFiles.length} .dvc file(s): ${res.removedDvcFiles.join(', ')}`);
  if (res.notConverted.length > 0) {
    say(g, 'not converted (stays DVC\'s):');
    for (const n of res.notConverted) say(g, `  ${n}`);
  }
  if (res.converted.length > 0) say(g, 'commit the .tdvc pointer files, .gitignore changes and .tdvc/config; then "tdvc push" fills a tdvc remote');
}
