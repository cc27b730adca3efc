export { StatIndex } from './stat-index.js';
export type { StatKey } from './stat-index.js';
export { scanPath } from './scan.js';
export { addFile, addSmallFileSync, hashWorkspaceFile, readSmallFileSync, hashSmallFileSync } from './ingest.js';
export type { AddedFile } from './ingest.js';
export type { ScannedFile, ScanResult, ScanOptions, ScanProgress, ScanCounts } from './scan.js';
