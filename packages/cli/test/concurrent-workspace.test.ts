import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, tdvc, writeTree } from './helpers.js';

test('concurrent adds in one folder lose no .gitignore entry (no dataset shows up in git status)', { timeout: 180_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const lost: string[] = [];
    for (let round = 0; round < 3; round++) {
      const names = Array.from({ length: 8 }, (_, i) => `r${round}d${i}`);
      for (const n of names) writeTree(root, { [`${n}/f.txt`]: n });
      const runs = await Promise.all(names.map((n) => tdvc(root, ['add', n])));
      runs.forEach((r, i) => assert.equal(r.code, 0, `add ${names[i]}: ${r.stderr}`));
      const lines = readFileSync(join(root, '.gitignore'), 'utf8').split('\n');
      for (const n of names) if (!lines.includes(`/${n}`)) lost.push(n);
    }
    assert.deepEqual(lost, [], 'every dataset is git-ignored');
    const untracked = git(root, 'status', '--porcelain', '--untracked-files=all').split('\n').filter((l) => /^\?\? r\dd\d\//.test(l));
    assert.deepEqual(untracked, [], 'no data file is offered to Git');
  } finally {
    cleanup();
  }
});
