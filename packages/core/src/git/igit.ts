import type IsoGit from 'isomorphic-git';

let loaded: typeof IsoGit | undefined;

/**
 * isomorphic-git, loaded on first use: it is large (0.1–0.3 s of start-up here, a sixth of a no-op
 * status of 100,000 files), and status, add and checkout never need it.
 */
export async function igit(): Promise<typeof IsoGit> {
  loaded ??= (await import('isomorphic-git')).default;
  return loaded;
}
