import { checkout, ExitCode, Repo } from '@tdvc/core';
import { printJson, say, warn, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';

export async function runCheckout(g: OutputOptions & { force?: boolean; jobs?: number }, paths: string[]): Promise<number> {
  const repo = await Repo.open();
  const bar = createProgress(!g.quiet && !g.json);
  let res;
  try {
    res = await checkout(repo, paths, {
      ...(g.force ? { force: true } : {}),
      ...(g.jobs ? { jobs: g.jobs } : {}),
      onProgress: (p) => bar.update(`${p.phase} ${p.path}`, p.done, p.total),
    });
  } finally {
    bar.stop();
  }
  const missing = res.datasets.flatMap((d) => d.missing);
  if (g.json) printJson(res);
  else {
    for (const f of res.fellBack) warn(`cannot ${f.from} here (${f.reason}); using ${f.to}`);
    for (const d of res.datasets) {
      if (d.written + d.removed > 0) say(g, `${d.path}: ${d.written} written, ${d.removed} removed, ${d.unchanged} unchanged`);
    }
    if (missing.length > 0) {
      process.stderr.write(`error: ${missing.length} file(s) could not be checked out because their data is not in the cache:\n`);
      for (const p of missing.slice(0, 20)) process.stderr.write(`  ${p}\n`);
      process.stderr.write("hint: run 'tdvc pull' to fetch them from a remote\n");
    }
  }
  return missing.length > 0 ? ExitCode.integrity : ExitCode.ok;
}
