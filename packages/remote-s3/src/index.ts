export { openS3Remote } from './s3-remote.js';
