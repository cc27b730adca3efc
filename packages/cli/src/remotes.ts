import type { Remote, RemoteSettings } from '@tdvc/core';

/**
 * Picks the remote implementation from the URL and loads its package only then, so S3's SDK is
 * never loaded for a filesystem remote (and core never imports a remote package).
 */
export async function openRemoteByUrl(settings: RemoteSettings): Promise<Remote> {
  if (settings.url.startsWith('s3://')) {
    const { openS3Remote } = await import('@tdvc/remote-s3');
    return openS3Remote(settings);
  }
  const { openFsRemote } = await import('@tdvc/remote-efs');
  return openFsRemote(settings);
}
