/**
 * `tdvc completion bash|zsh`: the scripts are generated from the commander program, so what they
 * offer is checked against the program itself, by running the completion function in a real bash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { completionScript } from '../src/completion.js';
import { buildProgram } from '../src/main.js';
import { assertOneClearError, tdvc, tempDir } from './helpers.js';

function hasShell(shell: string): boolean {
  return spawnSync(shell, ['-c', 'true']).status === 0;
}

async function script(dir: string, shell: string): Promise<string> {
  const r = await tdvc(dir, ['completion', shell]);
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, `completion.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash offers for the command line `words` (the last one being completed), run in `cwd`. */
function bashComplete(file: string, cwd: string, words: string[]): string[] {
  const arr = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source '${file}' && COMP_WORDS=(${arr}) && COMP_CWORD=${words.length - 1} && _tdvc && printf '%s\\n' "\${COMPREPLY[@]}"`], {
    cwd,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.split('\n').filter((l) => l !== '').sort();
}

function visible(cmd: Command): string[] {
  return cmd.createHelp().visibleCommands(cmd).map((c) => c.name());
}

test('the bash script is valid and completes commands, subcommands, options and files from the program', async () => {
  const dir = tempDir('tdvc-completion-');
  try {
    const file = await script(dir.path, 'bash');
    const n = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    assert.equal(n.status, 0, n.stderr);
    const program = buildProgram();
    const top = visible(program);
    // tdvc ch<TAB>: every command of the program starting with "ch", checkout among them
    const ch = bashComplete(file, dir.path, ['tdvc', 'ch']);
    assert.deepEqual(ch, top.filter((c) => c.startsWith('ch')).sort());
    assert.ok(ch.includes('checkout'));
    assert.ok(!ch.includes('merge-driver') && !bashComplete(file, dir.path, ['tdvc', 'merge']).includes('merge-driver'), 'hidden commands are not offered');
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', '']), [...top].sort());
    // tdvc remote <TAB>
    const remote = bashComplete(file, dir.path, ['tdvc', 'remote', '']);
    for (const sub of ['add', 'modify', 'list', 'remove', 'default']) assert.ok(remote.includes(sub), `remote ${sub}: ${remote.join(' ')}`);
    assert.deepEqual(remote, visible(program.commands.find((c) => c.name() === 'remote')!).sort());
    // options of the command being typed, after options and their values
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', '-q', 'remote', 'add', '-d', '--g']), ['--global']);
    assert.ok(bashComplete(file, dir.path, ['tdvc', 'config', '--']).includes('--show-origin'));
    // the value of -r is not taken for a command: "push -r remote <TAB>" completes paths, not remote's subcommands
    mkdirSync(join(dir.path, 'data'));
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', 'push', '-r', 'remote', 'da']), ['data']);
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', 'add', 'da']), ['data']);
  } finally {
    dir.cleanup();
  }
});

test('the zsh script is valid and finds the same command paths', { skip: hasShell('zsh') ? false : 'zsh is not installed (scripts/install-deps.sh --test installs it)' }, async () => {
  const dir = tempDir('tdvc-completion-');
  try {
    const file = await script(dir.path, 'zsh');
    const n = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    assert.equal(n.status, 0, n.stderr);
    const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source '${file}' && _tdvc_path -q remote modify && echo && _tdvc_subcommands remote && _tdvc_described_subcommands '' && print -l -- $items[1,3]`], {
      cwd: dir.path,
      encoding: 'utf8',
      env: { ...process.env, HOME: dir.path, ZDOTDIR: dir.path },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'remote modify');
    assert.deepEqual(lines[1]!.split(' ').sort(), visible(buildProgram().commands.find((c) => c.name() === 'remote')!).sort());
    assert.match(lines[2]!, /^init:make this Git repository a tdvc repository/);
  } finally {
    dir.cleanup();
  }
});

test("an option's value is not taken for a command (generated for any program)", () => {
  const dir = tempDir('tdvc-completion-');
  try {
    const program = new Command('tdvc').option('-C, --dir <path>', 'run there');
    program.command('remote').command('add');
    program.command('show').argument('[x]');
    const file = join(dir.path, 'c.bash');
    writeFileSync(file, completionScript(program, 'bash'));
    // "tdvc --dir remote <TAB>": "remote" is the folder, so the program's commands are offered
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', '--dir', 'remote', '']), ['help', 'remote', 'show']);
    assert.deepEqual(bashComplete(file, dir.path, ['tdvc', '-C', 'x', 'remote', '']), ['add', 'help']);
  } finally {
    dir.cleanup();
  }
});

test('an unknown shell is one clear error', async () => {
  const dir = tempDir('tdvc-completion-');
  try {
    const r = await tdvc(dir.path, ['completion', 'fish']);
    assertOneClearError(r, /no completion for the shell "fish"/);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
  } finally {
    dir.cleanup();
  }
});
