import { ExitCode, TdvcError, type ErrorCode } from '@tdvc/core';

/** What an SDK or network error looks like, whatever threw it. */
export interface ErrorFacts {
  /** S3 error code (NoSuchKey, SlowDown, ...) or JS error name */
  name: string;
  /** Node's system error code (ECONNRESET, ...) of the error or its causes */
  errno: string | undefined;
  status: number | undefined;
  message: string;
}

export function factsOf(err: unknown): ErrorFacts {
  // a request's final error arrives wrapped (see toTdvcError): its facts are the SDK error's
  if (err instanceof TdvcError && err.cause !== undefined) return factsOf(err.cause);
  const e = (err ?? {}) as { name?: unknown; Code?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  let errno: string | undefined;
  for (let c: unknown = err, depth = 0; c && typeof c === 'object' && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
      errno = code;
      break;
    }
  }
  const name = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : 'Error';
  return { name, errno, status: e.$metadata?.httpStatusCode, message: typeof e.message === 'string' ? e.message : String(err) };
}

const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailable']);
const TRANSIENT = new Set(['InternalError', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'IncompleteBody', 'BadDigest', 'XAmzContentSHA256Mismatch' /* body damaged in transit */]);
const NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ERR_STREAM_PREMATURE_CLOSE']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ETIMEDOUT', 'EPROTO', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);
const BAD_CREDENTIALS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired', 'InvalidClientTokenId', 'AuthorizationHeaderMalformed']);

export type Retry = 'no' | 'throttled' | 'transient' | 'network';

export function retryKind(err: unknown): Retry {
  if (err instanceof TdvcError) return 'no';
  const f = factsOf(err);
  if (THROTTLING.has(f.name) || f.status === 429 || f.status === 503) return 'throttled';
  if (TRANSIENT.has(f.name) || (f.status !== undefined && f.status >= 500)) return 'transient';
  if ((f.errno && NETWORK.has(f.errno)) || /socket hang up|ECONNRESET|premature close/i.test(f.message)) return 'network';
  return 'no';
}

export function isNotFound(err: unknown): boolean {
  const f = factsOf(err);
  return f.name === 'NoSuchKey' || f.name === 'NotFound' || (f.status === 404 && f.name !== 'NoSuchBucket');
}

export interface ErrorContext {
  remote: string;
  url: string;
  endpoint: string;
  /** what was being done, e.g. "uploading b3v1/ab/cd…" */
  doing?: string;
}

function where(ctx: ErrorContext): string {
  return `remote ${ctx.remote} (${ctx.url} at ${ctx.endpoint})`;
}

/** Turns an SDK/network error into one clear TdvcError; TdvcErrors pass through. */
export function toTdvcError(err: unknown, ctx: ErrorContext): TdvcError {
  if (err instanceof TdvcError) return err;
  const f = factsOf(err);
  const doing = ctx.doing ? ` while ${ctx.doing}` : '';
  const opts = (code: ErrorCode, message: string, hint: string, exitCode: (typeof ExitCode)[keyof typeof ExitCode] = ExitCode.transfer): TdvcError =>
    new TdvcError(code, message, { hint, exitCode, cause: err, data: { s3Code: f.name, status: f.status, errno: f.errno } });

  if (f.name === 'NoSuchBucket') {
    const bucket = /^s3:\/\/([^/]+)/.exec(ctx.url)?.[1] ?? '';
    return opts('ENOBUCKET', `${where(ctx)}: bucket "${bucket}" does not exist`, `create it (aws s3 mb s3://${bucket}) or fix the URL with 'tdvc remote modify ${ctx.remote} url s3://BUCKET/PREFIX'`, ExitCode.error);
  }
  if (BAD_CREDENTIALS.has(f.name)) {
    return opts('ES3CREDENTIALS', `${where(ctx)}: the server rejected the credentials (${f.name})${doing}`, 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the profile setting (tdvc remote modify NAME profile PROFILE); temporary credentials may have expired', ExitCode.error);
  }
  if (f.name === 'CredentialsProviderError' || /Could not load credentials/i.test(f.message)) {
    return opts('ENOCREDENTIALS', `${where(ctx)}: no AWS credentials found`, 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / the profile setting, or run on a machine with an instance role (aws sso login for SSO profiles)', ExitCode.error);
  }
  if (f.name === 'AccessDenied' || f.name === 'AllAccessDisabled' || f.status === 403) {
    return opts('ES3DENIED', `${where(ctx)}: access denied${doing} (${f.name})`, 'the credentials are valid but lack permission: tdvc needs s3:ListBucket on the bucket and s3:GetObject/s3:PutObject (and multipart actions) under the prefix; a wrong secret key can also look like this', ExitCode.error);
  }
  if (f.name === 'PermanentRedirect' || f.name === 'AuthorizationHeaderMalformed' || f.status === 301) {
    return opts('ES3REGION', `${where(ctx)}: the bucket is in another region (${f.name})`, `set it with 'tdvc remote modify ${ctx.remote} region REGION' or AWS_REGION`, ExitCode.error);
  }
  if (f.name === 'Region is missing' || /region is missing/i.test(f.message)) {
    return opts('ECONFIG', `${where(ctx)}: no AWS region configured`, `set one with 'tdvc remote modify ${ctx.remote} region REGION' or AWS_REGION`, ExitCode.usage);
  }
  if ((f.errno && UNREACHABLE.has(f.errno)) || f.name === 'TimeoutError') {
    return opts('EUNREACHABLE', `${where(ctx)}: cannot reach the S3 endpoint (${f.errno ?? f.name})${doing}`, `check the network and endpoint_url ('tdvc remote modify ${ctx.remote} endpoint_url URL'), and that the server is running`);
  }
  const kind = retryKind(err);
  if (kind === 'throttled') return opts('ES3THROTTLED', `${where(ctx)}: the server kept throttling requests (${f.name})${doing}`, 'try again later or with fewer jobs (-j N)');
  if (kind !== 'no') return opts('ES3UNAVAILABLE', `${where(ctx)}: request failed after retries (${f.errno ?? f.name}${f.status ? ` ${f.status}` : ''})${doing}`, 'the server or network is unreliable right now; run the command again (finished objects are not uploaded twice)');
  return opts('ES3', `${where(ctx)}: ${f.name}${f.status ? ` (HTTP ${f.status})` : ''}${doing}: ${f.message}`, 'see the S3 error code above');
}
