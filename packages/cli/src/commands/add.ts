import { add, Repo } from '@tdvc/core';
import { formatBytes, printJson, say, warn, type OutputOptions } from '../output.js';
import { createProgress } from '../progress.js';

export async function runAdd(g: OutputOptions & { jobs?: number }, paths: string[]): Promise<void> {
  const repo = await Repo.open();
  const bar = createProgress(!g.quiet && !g.json);
  let added;
  try {
    added = await add(repo, paths, {
      ...(g.jobs ? { jobs: g.jobs } : {}),
      onProgress: (p) => bar.update(`${p.phase === 'listing' ? 'listing' : 'hashing'} ${p.path}`, p.done, p.total),
    });
  } finally {
    bar.stop();
  }
  if (g.json) return printJson({ added });
  // with the default `reflink,copy` a plain copy is expected on most file systems: no warning
  const warned = new Set<string>();
  const configured = repo.config.get('cache.type') !== undefined;
  for (const f of configured ? added.flatMap((a) => a.fellBack) : []) {
    const key = `${f.from}>${f.to}`;
    if (!warned.has(key)) warn(`cannot ${f.from} between the cache and the workspace here (${f.reason}); using ${f.to}`);
    warned.add(key);
  }
  for (const a of added) {
    const what = a.type === 'dir' ? `${a.files} files, ${formatBytes(a.size)}` : formatBytes(a.size);
    say(g, `${a.changed ? 'added' : 'unchanged'} ${a.path} (${what}; ${a.hashed} hashed, ${a.stored} new in cache, ${a.linkType})`);
  }
  const changed = added.filter((a) => a.changed);
  if (changed.length > 0 && repo.hasGit) {
    say(g, `To record this version in Git:\n  git add ${changed.map((a) => `${a.pointerPath} ${gitignoreOf(a.path)}`).join(' ')}`);
  }
}

function gitignoreOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.gitignore' : `${path.slice(0, slash)}/.gitignore`;
}
