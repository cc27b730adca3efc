import { ExitCode, jobsRange, MAX_OPERATIONS, parseJobs, TdvcError, type RemoteSettings } from '@tdvc/core';

export type AddressingStyle = 'auto' | 'path' | 'virtual';
export type ChecksumMode = 'when_supported' | 'when_required';

export interface S3Settings {
  name: string;
  url: string;
  bucket: string;
  /** key prefix without leading or trailing '/', possibly empty */
  prefix: string;
  stateDir: string;
  endpointUrl: string | undefined;
  region: string | undefined;
  profile: string | undefined;
  addressingStyle: AddressingStyle;
  sse: 'AES256' | 'aws:kms' | undefined;
  sseKmsKeyId: string | undefined;
  storageClass: string | undefined;
  multipartThreshold: number;
  multipartChunksize: number;
  jobs: number;
  requestChecksumCalculation: ChecksumMode;
  /**
   * `fsx_posix UID:GID:MODE`: POSIX owner, group and mode stored on every upload as the user
   * metadata FSx for Lustre reads (`file-owner`, `file-group`, `file-permissions`), so a file
   * system linked to the bucket shows the objects to the intended users
   */
  posix: { uid: number; gid: number; mode: number } | undefined;
}

const MiB = 1024 * 1024;
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
export const DEFAULT_MULTIPART_THRESHOLD = 64 * MiB;
export const DEFAULT_MULTIPART_CHUNKSIZE = 16 * MiB;
export const DEFAULT_JOBS = 32;

export const KNOWN_OPTIONS = [
  'endpoint_url',
  'region',
  'profile',
  'addressing_style',
  'sse',
  'sse_kms_key_id',
  'storage_class',
  'multipart_threshold',
  'multipart_chunksize',
  'jobs',
  'request_checksum_calculation',
  'fsx_posix',
] as const;

const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'OUTPOSTS',
  'GLACIER_IR',
  'SNOW',
  'EXPRESS_ONEZONE',
];

function bad(s: { name: string }, key: string, value: string, why: string, hint?: string): TdvcError {
  return new TdvcError('ECONFIG', `remote ${s.name}: bad ${key} "${value}": ${why}`, {
    exitCode: ExitCode.usage,
    hint: hint ?? `fix it with 'tdvc remote modify ${s.name} ${key} VALUE'`,
  });
}

/** Parses `s3://bucket/prefix`. */
export function parseS3Url(name: string, url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const hint = `use s3://BUCKET/PREFIX, e.g. 'tdvc remote modify ${name} url s3://my-bucket/datasets'`;
  if (!m) throw new TdvcError('ECONFIG', `remote ${name}: not an S3 URL: ${url}`, { exitCode: ExitCode.usage, hint });
  const bucket = m[1]!;
  // S3-compatible stores allow more than AWS (uppercase, '_'), so only what can never work is refused
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    throw new TdvcError('ECONFIG', `remote ${name}: bad bucket name "${bucket}" in ${url}`, { exitCode: ExitCode.usage, hint });
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '.' || p === '..') || prefix.includes('//')) {
    throw new TdvcError('ECONFIG', `remote ${name}: bad key prefix "${prefix}" in ${url}`, { exitCode: ExitCode.usage, hint });
  }
  return { bucket, prefix };
}

/** Sizes as the AWS CLI reads them: plain bytes, or KB/MB/GB (binary multiples, like `aws configure`). */
export function parseSize(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const mult = { b: 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[unit] ?? 1;
  const n = Math.floor(Number(m[1]) * mult);
  return Number.isSafeInteger(n) ? n : undefined;
}

function oneOf<T extends string>(s: { name: string }, key: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!found) throw bad(s, key, value, `must be one of ${allowed.join(', ')}`);
  return found;
}

/** `jobs`: the bound every jobs value has (core's concurrency.ts) */
function jobsSetting(s: { name: string }, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseJobs(value, 'operations');
  if (n === undefined) throw bad(s, 'jobs', value, `must be ${jobsRange('operations')}`);
  return n;
}

function size(s: { name: string }, key: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = parseSize(value);
  if (n === undefined) throw bad(s, key, value, 'not a size (use bytes or e.g. 8MB, 64MiB, 1GB)');
  if (n < min || n > max) throw bad(s, key, value, `must be between ${fmt(min)} and ${fmt(max)}`);
  return n;
}

function fmt(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  return `${n} bytes`;
}

/** The endpoint the SDK will use: the setting, else the standard environment variables. */
function effectiveEndpoint(options: Record<string, string>, env: NodeJS.ProcessEnv): string | undefined {
  if (options['endpoint_url']) return options['endpoint_url'];
  if (env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true') return undefined;
  return env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined;
}

export function parseSettings(rs: RemoteSettings, env: NodeJS.ProcessEnv = process.env): S3Settings {
  const s = { name: rs.name };
  const o = rs.options;
  for (const key of Object.keys(o)) {
    if (/^(aws_)?(access_key_id|secret_access_key|session_token)$/.test(key)) {
      throw new TdvcError('ECONFIG', `remote ${rs.name}: credentials are not read from tdvc settings (${key})`, {
        exitCode: ExitCode.usage,
        hint: `remove it ('tdvc config --unset remote.${rs.name}.${key}'; check .tdvc/config.local too) and use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the 'profile' setting or an instance role`,
      });
    }
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      throw new TdvcError('ECONFIG', `remote ${rs.name}: unknown S3 setting "${key}"`, {
        exitCode: ExitCode.usage,
        hint: `known settings: ${KNOWN_OPTIONS.join(', ')}`,
      });
    }
  }
  const { bucket, prefix } = parseS3Url(rs.name, rs.url);

  const endpointUrl = o['endpoint_url'];
  if (endpointUrl !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(endpointUrl);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) {
      throw bad(s, 'endpoint_url', endpointUrl, 'must be an http:// or https:// URL', `e.g. 'tdvc remote modify ${rs.name} endpoint_url https://s3.example.com'`);
    }
  }
  const region = o['region'];
  if (region !== undefined && !/^[a-z0-9-]{1,64}$/i.test(region)) throw bad(s, 'region', region, 'not a region name (e.g. us-east-1)');
  const profile = o['profile'];
  if (profile !== undefined && profile.trim() === '') throw bad(s, 'profile', profile, 'empty');

  const addressingStyle = oneOf(s, 'addressing_style', o['addressing_style'], ['auto', 'path', 'virtual'] as const) ?? 'auto';
  const sse = oneOf(s, 'sse', o['sse'], ['AES256', 'aws:kms'] as const);
  const sseKmsKeyId = o['sse_kms_key_id'];
  if (sseKmsKeyId !== undefined && sse !== 'aws:kms') {
    throw bad(s, 'sse_kms_key_id', sseKmsKeyId, 'only used with sse aws:kms', `set 'tdvc remote modify ${rs.name} sse aws:kms' too`);
  }
  const storageClass = oneOf(s, 'storage_class', o['storage_class'], STORAGE_CLASSES);

  const multipartThreshold = size(s, 'multipart_threshold', o['multipart_threshold'], MIN_PART_SIZE, MAX_PART_SIZE) ?? DEFAULT_MULTIPART_THRESHOLD;
  const multipartChunksize = size(s, 'multipart_chunksize', o['multipart_chunksize'], MIN_PART_SIZE, MAX_PART_SIZE) ?? DEFAULT_MULTIPART_CHUNKSIZE;

  const jobsOption = jobsSetting(s, o['jobs']);
  if (rs.jobs !== undefined && (!Number.isInteger(rs.jobs) || rs.jobs < 1 || rs.jobs > MAX_OPERATIONS)) {
    throw new TdvcError('ECONFIG', `remote ${rs.name}: bad number of jobs: ${rs.jobs}`, { exitCode: ExitCode.usage, hint: `use ${jobsRange('operations')}` });
  }
  const jobs = rs.jobs ?? jobsOption ?? DEFAULT_JOBS;

  const effective = effectiveEndpoint(o, env);
  const requestChecksumCalculation =
    oneOf(s, 'request_checksum_calculation', o['request_checksum_calculation'], ['when_supported', 'when_required'] as const) ??
    // S3-compatible servers (RGW, Swift, ...) reject the aws-chunked CRC trailers the SDK sends by default
    (effective !== undefined ? 'when_required' : 'when_supported');

  let posix: S3Settings['posix'];
  const fsx = o['fsx_posix'];
  if (fsx !== undefined) {
    const m = /^(\d{1,10}):(\d{1,10}):([0-7]{3,4})$/.exec(fsx);
    if (!m || Number(m[1]) > 0xffffffff || Number(m[2]) > 0xffffffff || parseInt(m[3]!, 8) > 0o7777) {
      throw bad(s, 'fsx_posix', fsx, 'must be UID:GID:MODE (numbers, the mode in octal)', `e.g. 'tdvc remote modify ${rs.name} fsx_posix 1000:1000:0640'`);
    }
    posix = { uid: Number(m[1]), gid: Number(m[2]), mode: parseInt(m[3]!, 8) };
  }

  return {
    posix,
    name: rs.name,
    url: rs.url,
    bucket,
    prefix,
    stateDir: rs.stateDir,
    endpointUrl: effective,
    region,
    profile,
    addressingStyle,
    sse,
    sseKmsKeyId,
    storageClass,
    multipartThreshold,
    multipartChunksize,
    jobs,
    requestChecksumCalculation,
  };
}

/** Length of part `n` (1-based) of an object of `size` bytes cut into `partSize` parts: the last one may be short. */
export function partLength(size: number, partSize: number, n: number): number {
  return Math.min(partSize, size - (n - 1) * partSize);
}

/** Part size for an object: the configured one, grown so no object needs more than 10,000 parts. */
export function partSizeFor(objectSize: number, chunksize: number): number {
  const min = Math.ceil(objectSize / MAX_PARTS);
  if (chunksize >= min) return chunksize;
  return Math.ceil(min / MiB) * MiB;
}
