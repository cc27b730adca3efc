import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Settings } from './settings.js';

const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Region used when none is configured anywhere: what the AWS CLI assumes, and what RGW/MinIO accept. */
const FALLBACK_REGION = 'us-east-1';

function clientConfig(s: S3Settings, region: string | undefined): S3ClientConfig {
  const checksum = s.requestChecksumCalculation === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  // a custom endpoint (often an IP or a name without wildcard DNS) is addressed by path unless told otherwise
  const forcePathStyle = s.addressingStyle === 'path' || (s.addressingStyle === 'auto' && s.endpointUrl !== undefined);
  const agent = { keepAlive: true, maxSockets: s.jobs };
  return {
    ...(region ? { region } : {}),
    ...(s.endpointUrl ? { endpoint: s.endpointUrl } : {}),
    ...(s.profile ? { profile: s.profile } : {}),
    forcePathStyle,
    // retries are ours (retry.ts): the SDK cannot replay a file stream it already consumed
    maxAttempts: 1,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    followRegionRedirects: s.endpointUrl === undefined,
    // the SDK warns on the console when a streamed PUT fails ("non-retryable streaming request"),
    // though tdvc retries it itself and reports what finally failed; its notes show with TDVC_DEBUG=1
    logger: process.env['TDVC_DEBUG'] ? console : QUIET,
    requestHandler: {
      httpAgent: agent,
      httpsAgent: agent,
      connectionTimeout: 10_000,
      // idle socket timeout, not a total: multi-GiB bodies may take long but never stall this long
      socketTimeout: 120_000,
    },
  };
}

/**
 * Builds the client. Credentials are left entirely to the SDK's default provider chain (env vars,
 * profile incl. SSO, web identity, container and instance roles); region comes from the setting,
 * then AWS_REGION / the profile, then us-east-1.
 */
export async function createS3Client(s: S3Settings): Promise<S3Client> {
  // the SDK's Node-version notice is for whoever pins the SDK (this package), not for tdvc's users,
  // and would otherwise print on every command; anyone may still turn it on by setting it to "false"
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const client = new S3Client(clientConfig(s, s.region));
  if (s.region) return client;
  try {
    await client.config.region();
    return client;
  } catch {
    client.destroy();
    return new S3Client(clientConfig(s, FALLBACK_REGION));
  }
}
