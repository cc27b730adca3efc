import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Rgw } from './rgw.js';

export { TDVC_BIN, tdvc, git, tempDir, makeRepo, writeTree, type RunResult } from '@tdvc/test-utils';

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
