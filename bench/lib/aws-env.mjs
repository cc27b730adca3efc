import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The environment for child processes (the AWS CLI, tdvc) talking to a throwaway RGW: its keys, an
 * AWS CLI config with `s3Lines` (concurrency, multipart sizes) written into `work`, and nothing
 * of the user's own AWS set-up (profile, credentials file, instance metadata).
 */
export function rgwChildEnv(rgw, work, s3Lines) {
  const awsConfig = join(work, 'aws-config');
  writeFileSync(awsConfig, `[default]\nregion = us-east-1\ns3 =\n${s3Lines.map((l) => `  ${l}\n`).join('')}`);
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: rgw.accessKey,
    AWS_SECRET_ACCESS_KEY: rgw.secretKey,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  delete env.AWS_PROFILE;
  return env;
}
