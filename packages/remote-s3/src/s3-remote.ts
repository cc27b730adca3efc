import { TdvcError, type Remote, type RemoteSettings } from '@tdvc/core';

/** The S3 remote is being built (issue 4); until then an s3:// remote is refused clearly. */
export async function openS3Remote(settings: RemoteSettings): Promise<Remote> {
  throw new TdvcError('EUNSUPPORTED', `remote ${settings.name}: S3 remotes are not available in this build yet (${settings.url})`, {
    hint: 'use a filesystem remote (a local folder or an EFS mount) for now',
  });
}
