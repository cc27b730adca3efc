export type { Remote, RemoteOpener, RemoteSettings } from './remote.js';
export { pushObjects, planPush, applyPush, applyFetch } from './transfer.js';
export type { TransferResult, TransferFailure, TransferOptions } from './transfer.js';
export { planTransfer } from './plan.js';
export type { TransferItem, TransferPlan } from './plan.js';
