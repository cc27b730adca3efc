export type { Remote, RemoteOpener, RemoteSettings } from './remote.js';
export { pushObjects, fetchObjects } from './transfer.js';
export type { TransferItem, TransferResult, TransferFailure, TransferOptions } from './transfer.js';
