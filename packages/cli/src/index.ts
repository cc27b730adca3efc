export { buildProgram, main, cliVersion } from './main.js';
/** For programs that read or write a remote without the CLI: the S3 or folder remote a URL names. */
export { openRemoteByUrl } from './remotes.js';
