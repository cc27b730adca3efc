export { StatIndex } from './stat-index.js';
export type { StatKey } from './stat-index.js';
export { scanPath, hashWorkspaceFile } from './scan.js';
export type { ScannedFile, ScanResult, ScanOptions, ScanProgress, ScanCounts } from './scan.js';
