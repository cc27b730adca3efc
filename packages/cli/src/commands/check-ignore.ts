import { checkIgnorePaths, ExitCode, Repo } from '@tdvc/core';
import { out, printJson, type OutputOptions } from '../output.js';

/**
 * `tdvc check-ignore [-v] PATH...`, as `git check-ignore`: prints the ignored paths (with `-v`,
 * every path a rule matches, as `SOURCE:LINE:PATTERN<TAB>PATH`, a `!` rule included); exit 0 when
 * some path is ignored, 1 when none is.
 */
export async function runCheckIgnore(g: OutputOptions & { verbose?: boolean }, paths: string[]): Promise<number> {
  const res = checkIgnorePaths(await Repo.open(), paths);
  if (g.json) printJson(res);
  else if (!g.quiet) {
    for (const r of res) {
      if (g.verbose && r.rule) out(`${r.rule.source}:${r.rule.line}:${r.rule.pattern}\t${r.path}`);
      else if (!g.verbose && r.ignored) out(r.path);
    }
  }
  return res.some((r) => r.ignored) ? ExitCode.ok : ExitCode.error;
}
