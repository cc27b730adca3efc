export { openS3Remote, S3Remote, predecessor, type S3RemoteOptions } from './s3-remote.js';
export { parseSettings, parseS3Url, parseSize, type S3Settings } from './settings.js';
export { toTdvcError, retryKind } from './errors.js';
export { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
