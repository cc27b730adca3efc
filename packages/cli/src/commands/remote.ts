import { addRemote, listRemotes, modifyRemote, removeRemote, Repo, setDefaultRemote } from '@tdvc/core';
import { out, printJson, say, type OutputOptions } from '../output.js';
import { openConfig, printWarnings, scopeOf, type ScopeOpts } from './config.js';

type RemoteOpts = OutputOptions & ScopeOpts & { default?: boolean };

export async function runRemoteAdd(g: RemoteOpts, name: string, url: string): Promise<void> {
  const level = scopeOf(g);
  printWarnings(await addRemote({ config: await openConfig(level) }, name, url, { makeDefault: g.default === true, ...(level ? { level } : {}) }));
  say(g, `added remote ${name} (${url})${level && level !== 'project' ? ` to the ${level} config` : ''}`);
}

export async function runRemoteModify(g: RemoteOpts, name: string, key: string, value: string): Promise<void> {
  const level = scopeOf(g);
  printWarnings(await modifyRemote({ config: await openConfig(level) }, name, key, value, level));
}

export async function runRemoteList(g: RemoteOpts): Promise<void> {
  const remotes = listRemotes(await Repo.open());
  if (g.json) return printJson(remotes);
  for (const r of remotes) out(`${r.name}\t${r.url}${r.isDefault ? '\t(default)' : ''}`);
}

export async function runRemoteRemove(g: RemoteOpts, name: string): Promise<void> {
  const level = scopeOf(g);
  await removeRemote({ config: await openConfig(level) }, name, level);
}

export async function runRemoteDefault(g: RemoteOpts, name: string): Promise<void> {
  const level = scopeOf(g);
  printWarnings(await setDefaultRemote({ config: await openConfig(level) }, name, level));
}
