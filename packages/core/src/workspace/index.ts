export { Repo, findRoot, findGitDir, TDVC_DIR } from './repo.js';
export { Config, LINK_TYPES, validateSetting } from './config.js';
export type { ConfigLevel, LinkType } from './config.js';
export { walkFiles, statPath } from '../util/walk.js';
export type { WalkedFile } from '../util/walk.js';
export { findPointerFiles, loadDataset, loadAllDatasets, selectDatasets, dataPathOf } from './datasets.js';
export type { Dataset } from './datasets.js';
export { ensureIgnored } from './gitignore.js';
