import type { ConfigLevel } from './config-scopes.js';

/** What the S3 remote refuses outright (remote-s3 settings.ts): credentials come from the AWS chain only. */
const S3_CREDENTIAL = /^(aws_)?(access_key_id|secret_access_key|session_token)$/;
/** Names that usually hold a secret. */
const SECRET_NAME = /secret|passw(or)?d|token|credential|private_?key|api_?key|access_?key|auth/i;
/** An AWS access key id. */
const AWS_KEY_ID = /^(AKIA|ASIA)[A-Z0-9]{16}$/;
/** 40 base64 characters with upper and lower case and a digit: an AWS secret key (a hex commit id is lower case). */
const AWS_SECRET = /^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])[A-Za-z0-9/+]{40}$/;

/**
 * A warning for a setting about to be written that looks like a credential, or undefined. The value
 * is never repeated. Any scope: the S3 credential names, which no tdvc remote reads. The project
 * scope (committed, pushed, cloned by others): any secret-like name or AWS-key-like value.
 */
export function credentialWarning(key: string, value: string, level: ConfigLevel, file: string): string | undefined {
  const option = key.slice(key.lastIndexOf('.') + 1);
  const committed = level === 'project' ? ` and ${file} is committed with the project: remove it ('tdvc config --unset ${key}') before you commit` : '';
  if (key.startsWith('remote.') && S3_CREDENTIAL.test(option)) {
    const remote = key.slice('remote.'.length, key.lastIndexOf('.'));
    return (
      `${key} looks like an AWS credential; tdvc never reads credentials from its config (an S3 remote with it set refuses to open)${committed}. ` +
      `Use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a profile ('tdvc remote modify --local ${remote} profile NAME', or --global)`
    );
  }
  if (level !== 'project') return undefined;
  if (!SECRET_NAME.test(option) && !AWS_KEY_ID.test(value) && !AWS_SECRET.test(value)) return undefined;
  return `${key} looks like a credential${committed}; keep secrets in this clone's config ('tdvc config --local ${key} VALUE') or yours ('--global')`;
}
