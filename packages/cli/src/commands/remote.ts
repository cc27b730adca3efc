import { addRemote, listRemotes, modifyRemote, removeRemote, Repo, setDefaultRemote } from '@tdvc/core';
import { out, printJson, say, type OutputOptions } from '../output.js';

type RemoteOpts = OutputOptions & { default?: boolean; local?: boolean };

export async function runRemoteAdd(g: RemoteOpts, name: string, url: string): Promise<void> {
  const repo = await Repo.open();
  await addRemote(repo, name, url, { makeDefault: g.default === true, level: g.local ? 'local' : 'repo' });
  say(g, `added remote ${name} (${url})`);
}

export async function runRemoteModify(g: RemoteOpts, name: string, key: string, value: string): Promise<void> {
  await modifyRemote(await Repo.open(), name, key, value, g.local ? 'local' : 'repo');
}

export async function runRemoteList(g: RemoteOpts): Promise<void> {
  const remotes = listRemotes(await Repo.open());
  if (g.json) return printJson(remotes);
  for (const r of remotes) out(`${r.name}\t${r.url}${r.isDefault ? '\t(default)' : ''}`);
}

export async function runRemoteRemove(_g: RemoteOpts, name: string): Promise<void> {
  await removeRemote(await Repo.open(), name);
}

export async function runRemoteDefault(_g: RemoteOpts, name: string): Promise<void> {
  await setDefaultRemote(await Repo.open(), name);
}
