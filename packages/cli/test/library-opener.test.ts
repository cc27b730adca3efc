// The opener a program uses to reach a remote by URL without CLI internals (`import { openRemoteByUrl } from '@tdvc/cli'`);
// the S3 side is what every RGW test of the CLI opens through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { openRemoteByUrl } from '../src/index.js';
import { tempDir } from './helpers.js';

test('openRemoteByUrl, exported by the package: a folder URL opens the folder remote (upload, has, download)', async () => {
  const remoteDir = tempDir('tdvc-lib-remote-');
  const work = tempDir('tdvc-lib-work-');
  try {
    const bytes = Buffer.from('one object\n');
    const oid = hashBytes(bytes);
    const file = join(work.path, 'obj');
    writeFileSync(file, bytes);
    const folder = await openRemoteByUrl({ name: 'lib', url: remoteDir.path, options: {}, stateDir: work.path });
    await folder.upload(oid, file, bytes.length);
    assert.deepEqual([...(await folder.has([oid, hashBytes(Buffer.from('other'))]))], [oid]);
    const got: Buffer[] = [];
    await folder.download(oid, async (c) => void got.push(Buffer.from(c)));
    assert.deepEqual(Buffer.concat(got), bytes);
    await folder.close?.();
  } finally {
    remoteDir.cleanup();
    work.cleanup();
  }
});
