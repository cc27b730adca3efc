// The folder remote keeps the contract every remote keeps (@tdvc/test-utils' remoteContract), on a
// real temp folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { remoteContract, tempDir } from '@tdvc/test-utils';
import { openFsRemote } from '../src/index.js';

remoteContract(
  'folder remote',
  async () => {
    const t = tempDir('tdvc-fsremote-contract-');
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const remote = await openFsRemote({ name: 'folder', url: root, options: {}, stateDir: join(t.path, 'state') });
    return {
      remote,
      plant: async (key, bytes) => {
        const p = join(root, ...key.split('/'));
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, bytes);
      },
      close: async () => t.cleanup(),
    };
  },
  { listingFrom: 64 },
);
