export * from './errors.js';
export * from './hash/index.js';
export * from './odb/index.js';
export * from './objects/index.js';
export * from './tree/index.js';
export * from './index/index.js';
export * from './workspace/index.js';
export * from './checkout/index.js';
export * from './transfer/index.js';
export * from './commands/index.js';
export {
  uniqueTempName,
  writeFileAtomic,
  forEachLimit,
  isOwnedByDeadLocalProcess,
  isStaleTemp,
  isTempName,
  removeStaleTemp,
  removeRegularFile,
  entryExists,
  STALE_TEMP_AGE_MS,
} from './util/fs.js';
export { shellQuote } from './util/shell-quote.js';
export * from './util/concurrency.js';
export * from './git/index.js';
export * from './merge/index.js';
export { RevisionView, type OpenRevisionOptions, type ViewFile } from './reader/revision-view.js';
export { importDvc, type ImportDvcOptions, type ImportDvcResult, type ConvertedDataset } from './commands/import-dvc.js';
