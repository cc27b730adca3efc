import { init } from '@tdvc/core';
import { say, type OutputOptions } from '../output.js';

export async function runInit(g: OutputOptions & { git?: boolean }): Promise<void> {
  const res = await init(process.cwd(), { noGit: g.git === false });
  if (!res.created) {
    say(g, `tdvc is already set up in ${res.root}`);
    return;
  }
  say(g, `Initialized tdvc in ${res.root}/.tdvc`);
  if (res.git) say(g, 'Commit the setup with:\n  git add .tdvc/config .tdvc/.gitignore && git commit -m "Set up tdvc"');
}
