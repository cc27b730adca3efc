import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Rgw } from './rgw.js';

// the same few helpers as packages/cli/test/helpers.ts; copied because that package compiles after this one
export const TDVC_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'bin', 'tdvc.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function tdvc(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TDVC_BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function tempDir(prefix = 'tdvc-s3-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export async function makeRepo(): Promise<{ root: string; cleanup: () => void }> {
  const { path, cleanup } = tempDir();
  git(path, 'init', '-q', '-b', 'main');
  const r = await tdvc(path, ['init']);
  if (r.code !== 0) throw new Error(`tdvc init failed: ${r.stderr}`);
  return { root: path, cleanup };
}

export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/**
 * Points the AWS SDK (in this process and in spawned CLIs) at the test server only: its keys, and no
 * config file, profile or instance metadata of the machine the tests happen to run on.
 */
export function isolateAwsEnv(rgw: Rgw): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: rgw.accessKey,
    AWS_SECRET_ACCESS_KEY: rgw.secretKey,
    AWS_CONFIG_FILE: join(rgw.dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(rgw.dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_REQUEST_CHECKSUM_CALCULATION', 'AWS_RESPONSE_CHECKSUM_VALIDATION']) {
    delete process.env[k];
  }
  Object.assign(process.env, env);
  return env;
}

/** A plain SDK client for checking and tampering with what tdvc stored. */
export function adminClient(rgw: Rgw): S3Client {
  return new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

let bucketSeq = 0;

/** A new empty bucket; the first one also pays RGW's pool creation (~2 s). */
export async function newBucket(client: S3Client, stem = 'tdvc'): Promise<string> {
  const name = `${stem}-${process.pid}-${++bucketSeq}-${Date.now().toString(36)}`.toLowerCase();
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Warms RGW up (bucket index and data pools are created on first use). */
export async function warmUp(client: S3Client): Promise<void> {
  const b = await newBucket(client, 'warmup');
  await client.send(new PutObjectCommand({ Bucket: b, Key: 'x', Body: Buffer.from('x') }));
}
