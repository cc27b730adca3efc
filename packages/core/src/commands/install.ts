import * as fs from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { igit } from '../git/igit.js';
import type { Repo } from '../workspace/repo.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { NoFollowGuard } from '../util/no-follow.js';
import { readSmallText } from '../util/safe-read.js';
import { gitOf } from '../dataset/revision.js';

export interface InstallOptions {
  /** the shell command that runs tdvc, e.g. `'/usr/bin/node' '/opt/tdvc/bin/tdvc.js'` */
  command: string;
}

export interface InstallResult {
  hooks: Array<{ name: string; action: 'created' | 'appended' | 'unchanged' }>;
  gitattributes: boolean;
  mergeDriver: boolean;
}

const BEGIN = '# >>> tdvc >>>';
const END = '# <<< tdvc <<<';

type HookName = 'post-checkout' | 'post-merge' | 'post-rewrite' | 'pre-push';

function hookBlock(name: HookName, cmd: string): string {
  if (name === 'post-merge') {
    return `${BEGIN}
# tdvc: after git merge / git pull, make the data match the merged pointer files
${cmd} checkout || echo "tdvc: data not fully checked out (see above); run 'tdvc status'" >&2
${END}
`;
  }
  if (name === 'post-rewrite') {
    // post-checkout skips the steps of a rebase; sync once when the rebase has finished
    return `${BEGIN}
# tdvc: after a rebase, make the data match the pointer files
if [ "$1" = "rebase" ]; then
  ${cmd} checkout || echo "tdvc: data not fully checked out (see above); run 'tdvc status'" >&2
fi
${END}
`;
  }
  if (name === 'post-checkout') {
    // $3 = 1 for branch checkouts (0 for `git checkout -- file`); during a rebase the data is
    // synced once the rebase is done, and a hook failure must never break git itself.
    return `${BEGIN}
# tdvc: after git checkout / git switch, make the data match the pointer files
gd=$(git rev-parse --git-dir)
if [ "$3" = "1" ] && [ ! -d "$gd/rebase-merge" ] && [ ! -d "$gd/rebase-apply" ]; then
  ${cmd} checkout || echo "tdvc: data not fully checked out (see above); run 'tdvc status'" >&2
fi
${END}
`;
  }
  // pre-push: pushing pointer files whose data is nowhere else would strand the team, so a failed
  // data push stops the git push.
  return `${BEGIN}
# tdvc: push data to the default remote (if one is set) before git pushes the pointer files
${cmd} push --if-remote || { echo "tdvc: data push failed; git push stopped (skip with --no-verify)" >&2; exit 1; }
${END}
`;
}

/**
 * `tdvc install`: sets Git up so plain git commands handle data. Idempotent; an existing hook is
 * kept and tdvc's block is appended to it (or replaced in place when tdvc installed it before).
 */
export async function install(repo: Repo, opts: InstallOptions): Promise<InstallResult> {
  const g = gitOf(repo);
  const hooksDir = join(g.gitdir, 'hooks');
  // a hook is a program Git runs: never written through a link (the hook itself, or .git/hooks)
  new NoFollowGuard(g.gitdir).dir(hooksDir);
  await ensureDir(hooksDir);
  const hooks: InstallResult['hooks'] = [];
  for (const name of ['post-checkout', 'post-merge', 'post-rewrite', 'pre-push'] as const) {
    const file = join(hooksDir, name);
    const block = hookBlock(name, opts.command);
    const existing = await readSmallText(file, 'Git hook');
    let next: string;
    let action: 'created' | 'appended' | 'unchanged';
    if (existing === undefined) {
      next = `#!/bin/sh\n${block}`;
      action = 'created';
    } else if (existing.includes(BEGIN) && existing.includes(END)) {
      next = existing.slice(0, existing.indexOf(BEGIN)) + block + existing.slice(existing.indexOf(END) + END.length + 1);
      action = next === existing ? 'unchanged' : 'appended';
    } else {
      next = `${existing}${existing.endsWith('\n') ? '' : '\n'}${block}`;
      action = 'appended';
    }
    if (next !== existing) await writeFileAtomic(file, next, 0o755);
    await chmod(file, 0o755);
    hooks.push({ name, action });
  }

  const attrFile = join(repo.root, '.gitattributes');
  // refused when it is a link, as Git refuses to read a symlinked .gitattributes
  const attrs = (await readSmallText(attrFile, 'attributes file')) ?? '';
  const line = '*.tdvc merge=tdvc';
  const gitattributes = !attrs.split(/\r?\n/).includes(line);
  if (gitattributes) await writeFileAtomic(attrFile, `${attrs}${attrs === '' || attrs.endsWith('\n') ? '' : '\n'}${line}\n`);

  const driver = `${opts.command} merge-driver %O %A %B %P`;
  const current = await (await igit()).getConfig({ fs, gitdir: g.gitdir, path: 'merge.tdvc.driver' });
  const mergeDriver = current !== driver;
  if (mergeDriver) {
    await (await igit()).setConfig({ fs, gitdir: g.gitdir, path: 'merge.tdvc.name', value: 'tdvc dataset merge (file-level, three-way)' });
    await (await igit()).setConfig({ fs, gitdir: g.gitdir, path: 'merge.tdvc.driver', value: driver });
  }
  return { hooks, gitattributes, mergeDriver };
}
