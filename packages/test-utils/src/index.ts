export { TDVC_BIN, tdvc, git, tempDir, makeRepo, writeTree } from './run.js';
export type { RunResult } from './run.js';
export { remoteContract } from './remote-contract.js';
export type { ContractRemote, ContractOptions } from './remote-contract.js';
export { freePort, runCommand, sleep, Hopeless, until } from './daemons.js';
export { readTreeSync } from './trees.js';
export { startGitHttp } from './git-http.js';
export { startNpmRegistry, readPackedManifest, readTarEntry } from './npm-registry.js';
export type { PackedManifest } from './npm-registry.js';
