export { GitRepo } from './git-repo.js';
export type { CommittedPointer } from './git-repo.js';
