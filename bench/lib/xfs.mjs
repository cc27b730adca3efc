// A throw-away XFS filesystem with reflink support, in a sparse image on a loop device (root only).
import { mkdirSync, rmSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

/** Why an XFS loop mount cannot be made here, or undefined when it can be attempted. */
export function xfsUnavailableReason() {
  if (process.getuid?.() !== 0) return 'not running as root (loop mounts need root)';
  for (const t of ['mkfs.xfs', 'losetup', 'mount', 'umount', 'filefrag']) {
    if (spawnSync('bash', ['-c', `command -v ${t}`]).status !== 0) return `${t} is not installed`;
  }
  return undefined;
}

/** Creates and mounts an XFS (reflink=1) image of `sizeMB` at `mountDir`; returns { loop, unmount }. */
export function mountXfs(imagePath, mountDir, sizeMB) {
  rmSync(imagePath, { force: true });
  run('truncate', ['-s', `${sizeMB}M`, imagePath]);
  run('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', imagePath]);
  const loop = run('losetup', ['--find', '--show', imagePath]);
  let mounted = false;
  const unmount = () => {
    if (mounted) spawnSync('umount', [mountDir]);
    mounted = false;
    spawnSync('losetup', ['-d', loop]);
    rmSync(imagePath, { force: true });
    if (existsSync(mountDir)) rmSync(mountDir, { recursive: true, force: true });
  };
  try {
    mkdirSync(mountDir, { recursive: true });
    run('mount', [loop, mountDir]);
    mounted = true;
  } catch (err) {
    unmount();
    throw err;
  }
  return { loop, unmount };
}

/** True when every extent of `path` carries the 'shared' flag (filefrag -v). */
export function isFullyShared(path) {
  const out = run('filefrag', ['-v', path]);
  const extents = out.split('\n').filter((l) => /^\s*\d+:/.test(l));
  return extents.length > 0 && extents.every((l) => /\bshared\b/.test(l));
}

export function freeBytes(dir) {
  return Number(run('df', ['-B1', '--output=avail', dir]).split('\n').pop());
}
