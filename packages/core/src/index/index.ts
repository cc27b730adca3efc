export { StatIndex } from './stat-index.js';
export type { StatKey } from './stat-index.js';
export { scanPath, scanStream, SCAN_WINDOW, WALK_THREAD_MIN_FILES } from './scan.js';
export { addFile, addSmallFileSync, hashWorkspaceFile, readSmallFileSync, hashSmallFileSync } from './ingest.js';
export type { AddedFile } from './ingest.js';
export type { ScannedFile, ScanResult, ScanStream, ScanOptions, ScanProgress, ScanCounts } from './scan.js';
