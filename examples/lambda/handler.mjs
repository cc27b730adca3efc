// A Lambda handler reading one file of a pinned dataset version, for `pnpm lambda-bundle`:
//   node scripts/lambda-bundle.mjs --entry examples/lambda/handler.mjs --out build/lambda
// The event names a Git repository (http:// or https://), a revision and a tracked path:
//   { "repo": "https://git.example.com/team/datasets.git", "rev": "v1.2.0", "path": "data/train.csv" }
// The file's bytes come from the remote the repository's config names (S3 with the function's
// role, or a folder such as an EFS mount), hashed as they pass: a mismatch ends the stream with
// ECORRUPT before the handler returns.
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RevisionView, selectBackend } from '@tdvc/core';
import { openRemoteByUrl } from '@tdvc/cli';

export const handler = async (event) => {
  const { repo, rev, path } = event;
  if (typeof repo !== 'string' || typeof path !== 'string') throw new Error('the event needs "repo" and "path" (and "rev")');
  // only /tmp is writable on Lambda (os.tmpdir()); tree manifests kept there serve warm invocations
  const view = await RevisionView.open(repo, {
    ...(rev ? { rev } : {}),
    opener: openRemoteByUrl,
    cacheDir: join(tmpdir(), 'tdvc-cache'),
    tmpDir: tmpdir(),
  });
  try {
    const stream = await view.open(path);
    const sha256 = createHash('sha256');
    let size = 0;
    for await (const chunk of stream) {
      sha256.update(chunk);
      size += chunk.length;
    }
    return {
      path,
      commit: view.commit,
      size,
      oid: stream.oid, // BLAKE3, as the pointer file records it; the bytes were checked against it
      sha256: sha256.digest('hex'),
      backend: selectBackend(), // 'wasm' in the bundle: the native binding is left out
    };
  } finally {
    await view.close();
  }
};
