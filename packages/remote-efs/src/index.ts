export { FsRemote, openFsRemote } from './fs-remote.js';
