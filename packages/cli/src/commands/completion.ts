import type { Command } from 'commander';
import { TdvcError } from '@tdvc/core';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import type { OutputOptions } from '../output.js';

/** `tdvc completion bash|zsh`: prints the script (see completion.ts). */
export async function runCompletion(_g: OutputOptions, shell: string, _opts: unknown, cmd: Command): Promise<void> {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new TdvcError('EUSAGE', `no completion for the shell "${shell}"`, { hint: `choose one of: ${SHELLS.join(', ')}` });
  }
  let program = cmd;
  while (program.parent) program = program.parent;
  process.stdout.write(completionScript(program, shell as Shell));
}
