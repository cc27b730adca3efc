export { FsRemote, openFsRemote, RemoteEntryRejectedError } from './fs-remote.js';
