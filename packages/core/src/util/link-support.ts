/**
 * The ways a cache object can be put in a workspace, and the one table of the errors that mean
 * "this way cannot be used between these two places" (rather than a real failure). Checkout's
 * Linker drops a type on these, and the store's reflink paths fall back to a copy on them.
 */
export const LINK_TYPES = ['reflink', 'hardlink', 'symlink', 'copy'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

const UNSUPPORTED: Record<LinkType, readonly string[]> = {
  reflink: ['EOPNOTSUPP', 'ENOTSUP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EBADF'],
  hardlink: ['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'],
  symlink: ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'],
  copy: [],
};

/** Whether `err` says that links of `type` cannot be made here (so the next type should be tried). */
export function isUnsupportedHere(type: LinkType, err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && UNSUPPORTED[type].includes(code);
}
