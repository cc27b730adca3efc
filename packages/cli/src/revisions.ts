import type { RevisionScope } from '@tdvc/core';

/** The revision options of push, fetch and `status -r` as commander parses them. */
export interface RevisionFlags {
  rev?: string[];
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
}

/** The versions those options select (core's RevisionScope). */
export function scopeOf(g: RevisionFlags): RevisionScope {
  return {
    ...(g.rev && g.rev.length > 0 ? { revs: g.rev } : {}),
    ...(g.allBranches ? { allBranches: true } : {}),
    ...(g.allTags ? { allTags: true } : {}),
    ...(g.allCommits ? { allCommits: true } : {}),
  };
}
