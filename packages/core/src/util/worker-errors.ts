import { isErrorCode, TdvcError, type ExitCodeValue } from '../errors.js';

/** An error as it crosses from a worker thread: enough to rebuild the same message and code. */
export interface SerializedError {
  isTdvc: boolean;
  code: string | undefined;
  message: string;
  path?: string;
  hint?: string;
  exitCode?: ExitCodeValue;
  data?: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof TdvcError) {
    return {
      isTdvc: true,
      code: err.code,
      message: err.message,
      ...(err.path ? { path: err.path } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
      exitCode: err.exitCode,
      data: err.data,
    };
  }
  const e = err as NodeJS.ErrnoException;
  return { isTdvc: false, code: e?.code, message: String(e?.message ?? err), ...(e?.path ? { path: e.path } : {}) };
}

export function deserializeError(s: SerializedError): Error {
  if (s.isTdvc) {
    return new TdvcError(isErrorCode(s.code) ? s.code : 'EINTERNAL', s.message, {
      ...(s.path ? { path: s.path } : {}),
      ...(s.hint ? { hint: s.hint } : {}),
      ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
      ...(s.data ? { data: s.data } : {}),
    });
  }
  return Object.assign(new Error(s.message), { code: s.code, path: s.path });
}
