import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ExitCode, jobsRange, parseJobs, type JobsKind } from '@tdvc/core';
import { err, renderError, tolerateClosedOutput } from './output.js';

/**
 * The version in this package's package.json (dist/src/main.js → ../../package.json), so an
 * installed tdvc reports what was published. Read when the command line is built, not at import:
 * a bundle of the library exports (a Lambda package) has no package.json beside it.
 */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

interface Globals {
  json?: boolean;
  quiet?: boolean;
}

/** Builds the command tree; each command's code is loaded only when it runs. */
export function buildProgram(): Command {
  const program = new Command('tdvc')
    .description('data version control for ML teams: datasets and models versioned next to your Git code')
    .version(cliVersion())
    .option('-q, --quiet', 'print nothing but errors')
    .showHelpAfterError('(run tdvc --help for usage)')
    .exitOverride();

  const run =
    <A extends unknown[]>(load: () => Promise<(g: Globals, ...args: A) => Promise<number | void>>) =>
    async (...args: A): Promise<void> => {
      const globals = program.opts<Globals>();
      const cmd = args[args.length - 1] as Command;
      const merged: Globals = { ...globals, ...(cmd.opts?.() as Globals) };
      const fn = await load();
      const code = await fn(merged, ...args);
      if (typeof code === 'number') process.exitCode = code;
    };

  program
    .command('init')
    .description('make this Git repository a tdvc repository')
    .option('--no-git', 'allow a repository that is not under Git')
    .action(run(async () => (await import('./commands/init.js')).runInit));

  program
    .command('add')
    .description('track files or folders: hash them into the cache and write PATH.tdvc pointer files')
    .argument('<paths...>', 'files, folders or glob patterns')
    .option('-j, --jobs <n>', 'threads hashing files (default: one per core, at most 8)', jobsOption('threads'))
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/add.js')).runAdd));

  const status = program
    .command('status')
    .description('show how tracked data differs from its pointer files, and what the cache lacks')
    .argument('[paths...]', 'datasets or paths inside them (default: all)')
    .option('-r, --remote [name]', 'compare with a remote instead: what is not pushed, what is not fetched');
  revisionOptions(status, 'with --remote: ')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/status.js')).runStatus));

  program
    .command('get-url')
    .description('print where the files of PATH live on the remote (for jobs that read data without tdvc)')
    .argument('<path>', 'a dataset, a folder inside one, or one file')
    .option('--rev <rev>', 'as of this revision')
    .option('-r, --remote <name>', 'remote (default: core.remote)')
    .option('--presign <seconds>', 'time-limited URLs that need no credentials (S3)', parsePositive)
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/sync.js')).runGetUrl));

  program
    .command('checkout')
    .description('make the workspace match the pointer files; with REV, switch Git to REV and check out its data')
    .usage('[options] [REV] [-- PATH...]')
    .argument('[args...]', 'a revision (commit, branch, tag) and/or, after --, datasets or paths inside them')
    .option('-f, --force', 'discard workspace changes that are not in the cache')
    .option('--rev <rev>', 'restore PATHs as of this revision without moving HEAD')
    .option('--ours', 'after a conflicted merge: take our version of the conflicting files under PATH')
    .option('--theirs', 'after a conflicted merge: take their version of the conflicting files under PATH')
    .option('-n, --dry-run', 'only say what would be written and removed')
    .option('-j, --jobs <n>', 'threads writing files (default: one per core, at most 8)', jobsOption('threads'))
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/checkout.js')).runCheckout));

  program
    .command('diff')
    .description('files added, modified and deleted per dataset between two revisions (default: HEAD and the workspace)')
    .argument('[revA]', 'older revision (default HEAD)')
    .argument('[revB]', 'newer revision (default: the workspace)')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/history.js')).runDiff));

  program
    .command('check-ignore')
    .description('say whether .tdvcignore rules keep PATHs out of their datasets (exit 0: some path is ignored, 1: none)')
    .argument('<paths...>', 'paths in the repository')
    .option('-v, --verbose', 'print SOURCE:LINE:PATTERN<TAB>PATH for every path a rule matches')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/check-ignore.js')).runCheckIgnore));

  program
    .command('remove')
    .description('stop tracking datasets: delete their pointer files and .gitignore lines; the data stays unless --delete')
    .argument('<paths...>', 'datasets or their .tdvc files')
    .option('--delete', 'also delete the workspace data (only when it matches its pointer)')
    .option('-f, --force', 'with --delete: delete it even when it holds changes that are not in the cache')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/tracking.js')).runRemove));

  program
    .command('move')
    .description('rename a dataset: its data, pointer file and .gitignore lines (nothing is re-hashed)')
    .argument('<src>', 'a dataset or its .tdvc file')
    .argument('<dst>', 'the new path (or an existing folder to move it into)')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/tracking.js')).runMove));

  program
    .command('unprotect')
    .description('replace files linked to the cache (hardlink/symlink checkouts) by writable copies, before editing them')
    .argument('<paths...>', 'datasets or paths inside them')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/tracking.js')).runUnprotect));

  program
    .command('du')
    .description('sizes of tracked data from manifests: per dataset files and bytes, and bytes after deduplication')
    .argument('[path]', 'a dataset or a path inside one (default: all)')
    .option('--rev <rev>', 'revision (default: the pointer files in the working tree)')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/tracking.js')).runDu));

  program
    .command('ls')
    .description('list the files of tracked datasets at a revision, here or in another repository (URL)')
    .argument('[path]', 'a dataset or a path inside one; or the URL of another repository (http(s)://), then PATH')
    .argument('[path-in-url]', 'with a URL: a dataset or a path inside one')
    .option('--rev <rev>', 'revision (default: the pointer files in the working tree)')
    .option('-l, --long', 'show sizes and hashes')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/history.js')).runLs));

  program
    .command('get')
    .description('download a dataset (or a folder or file in one) of another repository, untracked, verified')
    .argument('<url>', 'the repository (http(s)://…)')
    .argument('<path>', 'a dataset, a folder inside one, or one file')
    .option('--rev <rev>', 'branch, tag or commit (default: its default branch)')
    .option('-o, --out <path>', 'where to write it (default: the last part of PATH, here); must not exist')
    .action(run(async () => (await import('./commands/registry.js')).runGet));

  program
    .command('import')
    .description('track data of another repository at a revision: downloaded, checked out, its source recorded in the pointer file')
    .argument('<url>', 'the repository (http(s)://…)')
    .argument('<path>', 'a dataset, a folder inside one, or one file')
    .option('--rev <rev>', 'branch, tag or commit (default: its default branch)')
    .option('-o, --out <path>', 'where it goes here (default: the last part of PATH); must not exist')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/registry.js')).runImport));

  program
    .command('update')
    .description('move imports to the newest commit of the revision they follow (or to --rev), and check them out')
    .argument('[paths...]', 'imported datasets (default: every import)')
    .option('--rev <rev>', 'the revision to follow from now on')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/registry.js')).runUpdate));

  program
    .command('import-dvc')
    .description('convert the DVC repository here to tdvc in place: .dvc files and dvc.lock outputs become pointer files, data read once from the DVC cache (md5-verified)')
    .option('--remove-dvc-files', 'delete the .dvc files whose outputs were converted (default: keep them, DVC keeps working)')
    .option('--remote-dir <dir>', 'a folder holding a copy of the DVC remote, read for objects the DVC cache lacks')
    .option('--history', "also convert every older commit's outputs into the cache (no pointers written there), so import-dvc at any of those revisions reads no data")
    .option('-j, --jobs <n>', 'DVC objects read at once', jobsOption('operations'))
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/import-dvc.js')).runImportDvc));

  program
    .command('install')
    .description('set up Git hooks (post-checkout, pre-push) and the dataset merge driver so plain git commands handle data')
    .action(run(async () => (await import('./commands/history.js')).runInstall));

  program
    .command('merge')
    .description('merge a branch, datasets included, without the Git CLI (file-level merge of dataset manifests)')
    .argument('<branch>')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/history.js')).runMerge));

  program
    .command('merge-driver', { hidden: true })
    .description('Git merge driver for *.tdvc files (set up by tdvc install)')
    .argument('<ancestor>')
    .argument('<ours>')
    .argument('<theirs>')
    .argument('[path]')
    .action(run(async () => (await import('./commands/history.js')).runMergeDriver));

  program
    .command('gc')
    .description('delete cache (or remote) objects that nothing in the given scope references; reports only, unless --force')
    .option('-w, --workspace', 'keep what the pointer files in the working tree reference (always kept)')
    .option('-a, --all-branches', 'keep what the tip of every branch references')
    .option('-T, --all-tags', 'keep what every tag references')
    .option('-A, --all-commits', 'keep what any commit references')
    .option('-r, --remote <name>', 'collect on this remote instead of the cache')
    .option('-f, --force', 'really delete (default: only report what would go)')
    .option('-n, --dry-run', 'only report what would go (the default)')
    .option('--grace <seconds>', 'keep objects written less than this long ago (default 3600)', parseNonNegative)
    .option('--forget-project <id>', 'unregister a project that no longer exists from the shared cache')
    .option('--forget-workspace <id>', "drop a workspace's record from the cache (one gone for good): gc then no longer keeps its data")
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/maintenance.js')).runGc));

  program
    .command('fsck')
    .description('re-hash every object; quarantine corrupt ones and remove temp files of killed writers')
    .option('-r, --remote <name>', 'check a remote instead of the cache')
    .option('-j, --jobs <n>', 'objects checked at once', jobsOption('operations'))
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/maintenance.js')).runFsck));

  program
    .command('config')
    .description('get, set or list settings (e.g. cache.type, cache.dir, core.remote)')
    .argument('[key]', 'SECTION.KEY')
    .argument('[value]', 'new value')
    .option('--system', 'only the machine\'s config (/etc/tdvc/config, or $TDVC_SYSTEM_CONFIG)')
    .option('--global', 'only your own config ($XDG_CONFIG_HOME/tdvc/config or ~/.config/tdvc/config, or $TDVC_GLOBAL_CONFIG)')
    .option('--project', 'only .tdvc/config, committed (where writes go by default)')
    .option('--local', 'only .tdvc/config.local, this clone\'s (git-ignored)')
    .option('--unset', 'remove the setting')
    .option('-l, --list', 'list all settings')
    .option('--show-origin', 'with each value, the file it comes from')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/config.js')).runConfig));

  program
    .command('completion')
    .description('print a shell completion script: source <(tdvc completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action(run(async () => (await import('./commands/completion.js')).runCompletion));

  const cache = program.command('cache').description('the cache: its folder, and who uses it');
  cache
    .command('dir')
    .description('show or set the cache folder (e.g. a shared EFS mount)')
    .argument('[path]', 'new cache folder; relative paths are relative to .tdvc/ (with --global or --system: to here)')
    .option('--local', 'only for this clone (.tdvc/config.local)')
    .option('--global', 'your default for every repository (your own config)')
    .option('--system', "the machine's default (the system config)")
    .action(run(async () => (await import('./commands/config.js')).runCacheDir));
  cache
    .command('status')
    .description('the workspaces using this cache (from any machine): where, when last seen, how much each references, and what gc would free')
    .option('--grace <seconds>', 'grace period to judge gc by (default 3600)', parseNonNegative)
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/cache-status.js')).runCacheStatus));

  const remote = program.command('remote').description('manage remotes (S3 buckets, EFS or local folders)');
  remote
    .command('add')
    .argument('<name>')
    .argument('<url>', 's3://bucket/prefix, /mnt/efs/path or file:///path')
    .option('-d, --default', 'make it the default remote')
    .option('--local', 'only for this clone')
    .option('--global', 'yours, in every repository (your own config)')
    .option('--system', "the machine's (the system config)")
    .action(run(async () => (await import('./commands/remote.js')).runRemoteAdd));
  remote
    .command('modify')
    .argument('<name>')
    .argument('<key>')
    .argument('<value>')
    .option('--local', 'write to .tdvc/config.local (git-ignored)')
    .option('--global', 'write to your own config (a remote defined there)')
    .option('--system', "write to the machine's config")
    .action(run(async () => (await import('./commands/remote.js')).runRemoteModify));
  remote
    .command('list')
    .option('--json', 'machine-readable output')
    .action(run(async () => (await import('./commands/remote.js')).runRemoteList));
  remote
    .command('remove')
    .argument('<name>')
    .option('--local', 'only from .tdvc/config.local')
    .option('--global', 'from your own config')
    .option('--system', "from the machine's config")
    .action(run(async () => (await import('./commands/remote.js')).runRemoteRemove));
  remote
    .command('default')
    .argument('<name>')
    .option('--local', 'only for this clone')
    .option('--global', 'your default in every repository')
    .option('--system', "the machine's default")
    .action(run(async () => (await import('./commands/remote.js')).runRemoteDefault));

  for (const [name, description] of [
    ['push', 'upload the data of tracked datasets that the remote lacks'],
    ['fetch', 'download the data of tracked datasets into the cache'],
    ['pull', 'fetch, then check out'],
  ] as const) {
    const c = program
      .command(name)
      .description(description)
      .argument('[paths...]', 'datasets or paths inside them (default: all)')
      .option('-r, --remote <name>', 'remote to use (default: core.remote)')
      .option('-j, --jobs <n>', 'transfers at once', jobsOption('operations'))
      .option('--json', 'machine-readable output');
    if (name === 'pull') c.option('-f, --force', 'discard workspace changes that are not in the cache');
    if (name === 'push') c.option('--if-remote', 'do nothing (successfully) when no remote is configured (for hooks)');
    if (name !== 'pull') revisionOptions(c, '');
    if (name !== 'pull') c.option('-n, --dry-run', `say what would be ${name === 'push' ? 'uploaded' : 'downloaded'}, move nothing`);
    c.action(run(async () => (await import('./commands/sync.js')).syncCommand(name)));
  }
  return program;
}

/**
 * The versions push, fetch and `status -r` cover (core's RevisionScope): the working tree's pointer
 * files by default; `--rev` (repeatable) instead of them; the --all-* options in addition to them.
 */
function revisionOptions(c: Command, prefix: string): Command {
  return c
    .option('--rev <rev>', `${prefix}the datasets as committed at this revision instead of the working tree (repeatable)`, (v: string, prev: string[] = []) => [...prev, v])
    .option('-a, --all-branches', `${prefix}also every branch tip's datasets`)
    .option('-T, --all-tags', `${prefix}also every tag's datasets`)
    .option('-A, --all-commits', `${prefix}also the datasets of every commit`);
}

// InvalidArgumentError is the one error commander prints (naming the option and the value) before
// exitOverride rethrows it; any other error from a parser escapes unprinted
function parsePositive(v: string): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more.');
  return n;
}

/** -j on every command: the bound of its kind (core's concurrency.ts), checked as it is parsed */
function jobsOption(kind: JobsKind): (v: string) => number {
  return (v) => {
    const n = parseJobs(v, kind);
    if (n === undefined) throw new InvalidArgumentError(`expected ${jobsRange(kind)}.`);
    return n;
  };
}

function parseNonNegative(v: string): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds, 0 or more.');
  return n;
}

export async function main(argv: string[]): Promise<number> {
  tolerateClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      // commander has printed its own errors already; one of ours it has not
      if (!error.code.startsWith('commander.')) err(`error: ${error.message}`);
      return ExitCode.usage;
    }
    return renderError(error, argv.includes('--json'));
  }
}

