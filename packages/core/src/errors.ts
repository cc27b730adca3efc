/**
 * Every user-facing failure is a TdvcError with a stable string `code`, an exit code,
 * the path or object it concerns, and a hint saying what to do next.
 * Programmer errors stay plain `Error`s.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  wouldLoseData: 3,
  integrity: 4,
  transfer: 5,
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface TdvcErrorOptions {
  path?: string;
  hint?: string;
  exitCode?: ExitCodeValue;
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class TdvcError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly path: string | undefined;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: string, message: string, options: TdvcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.error;
    this.path = options.path;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }
}

export class NotInitializedError extends TdvcError {
  constructor(cwd: string) {
    super('ENOTINIT', `not a tdvc repository (or any parent up to /): ${cwd}`, {
      path: cwd,
      hint: "run 'tdvc init' at the root of your Git repository",
    });
  }
}

export class NotAGitRepositoryError extends TdvcError {
  constructor(dir: string) {
    super('ENOGIT', `not inside a Git repository: ${dir}`, {
      path: dir,
      hint: "run 'git init' first, or 'tdvc init --no-git' to use tdvc without Git",
    });
  }
}

export class PathOutsideRepositoryError extends TdvcError {
  constructor(path: string, root: string) {
    super('EOUTSIDE', `path is outside the repository: ${path}`, {
      path,
      exitCode: ExitCode.usage,
      hint: `tdvc only tracks paths under ${root}`,
    });
  }
}

export class InvalidPathError extends TdvcError {
  constructor(path: string, reason: string, hint?: string) {
    super('EBADPATH', `cannot use ${path}: ${reason}`, { path, exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
  }
}

export class MalformedFileError extends TdvcError {
  constructor(path: string, reason: string, line?: number) {
    super('EMALFORMED', `malformed ${path}${line === undefined ? '' : ` (line ${line})`}: ${reason}`, {
      path,
      data: line === undefined ? {} : { line },
      hint: 'restore it from Git (git checkout -- FILE) or re-create it with tdvc add',
    });
  }
}

export class CorruptObjectError extends TdvcError {
  constructor(oid: string, found: string, where: string) {
    super('ECORRUPT', `object ${oid} is corrupt: its content hashes to ${found} (${where})`, {
      path: where,
      exitCode: ExitCode.integrity,
      data: { expected: oid, found },
      hint: "run 'tdvc fsck' to quarantine it, then fetch it again or re-add the original file",
    });
  }
}

export class MissingObjectError extends TdvcError {
  constructor(oid: string, what: string) {
    super('EMISSING', `object ${oid} (${what}) is not in the cache`, {
      data: { oid },
      exitCode: ExitCode.integrity,
      hint: "run 'tdvc pull' to fetch it from a remote",
    });
  }
}

export class FileChangedError extends TdvcError {
  constructor(path: string) {
    super('ECHANGED', `file changed while it was being added: ${path}`, {
      path,
      hint: 'wait until whatever writes it has finished, then run tdvc add again',
    });
  }
}

export class WouldLoseDataError extends TdvcError {
  constructor(message: string, paths: string[], hint: string) {
    super('EWOULDLOSE', message, { exitCode: ExitCode.wouldLoseData, data: { paths }, hint });
  }
}

export class ConfigError extends TdvcError {
  constructor(message: string, hint?: string) {
    super('ECONFIG', message, { exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
  }
}

const fsCodes: Record<string, { code: string; what: string; hint?: string }> = {
  ENOSPC: { code: 'ENOSPC', what: 'no space left on device', hint: 'free some space (tdvc gc can help) and run the command again' },
  EDQUOT: { code: 'ENOSPC', what: 'disk quota exceeded', hint: 'free some space and run the command again' },
  ELOOP: { code: 'ELOOP', what: 'too many levels of symbolic links (a symlink loop?)' },
  EACCES: { code: 'EACCES', what: 'permission denied' },
  EPERM: { code: 'EACCES', what: 'operation not permitted' },
  ENOENT: { code: 'ENOENT', what: 'no such file or directory' },
  EROFS: { code: 'EROFS', what: 'read-only file system' },
  EISDIR: { code: 'EISDIR', what: 'is a directory' },
  ENOTDIR: { code: 'ENOTDIR', what: 'not a directory' },
  EIO: { code: 'EIO', what: 'input/output error' },
};

/** Turns a Node.js system error into a TdvcError that names the path; returns other values unchanged. */
export function fromSystemError(err: unknown, path?: string): unknown {
  if (err instanceof TdvcError) return err;
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return err;
  const known = fsCodes[e.code];
  if (!known) return err;
  const where = path ?? e.path ?? '';
  return new TdvcError(known.code, `${where}: ${known.what}`, {
    path: where,
    cause: err,
    ...(known.hint ? { hint: known.hint } : {}),
  });
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
