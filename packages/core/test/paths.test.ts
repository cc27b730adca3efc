import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relPathProblem, reservedName } from '../src/index.js';

test('reservedName: every spelling a file system may take for .git or .tdvc, as Git refuses them', () => {
  const git = ['.git', '.GIT', '.Git', '.gIt', '.git.', '.git ', '.git. . ', 'git~1', 'GIT~1', '.git::$INDEX_ALLOCATION', '.git:x', '\u200c.git', '.g\u200dit', '.git\ufeff', '\u206a.GIT'];
  for (const n of git) assert.equal(reservedName(n), '.git', JSON.stringify(n));
  for (const n of ['.tdvc', '.TDVC', '.tdvc.', 'tdvc~1', '\u200e.tdvc']) assert.equal(reservedName(n), '.tdvc', JSON.stringify(n));
  // ordinary names that merely look alike stay usable
  for (const n of ['.gitignore', '.github', '.gitkeep', 'git', 'git~2', '.git~1', 'x.git', '.gi', 'tdvc', '.tdvcx', 'train', 'test', 'données', '数据']) {
    assert.equal(reservedName(n), undefined, JSON.stringify(n));
  }
});

test('relPathProblem refuses reserved components anywhere, and the fast path agrees with the slow one', () => {
  for (const p of ['.git/config', 'a/.GIT/hooks/x', 'a/b/git~1', 'x/.tdvc/config', 'a/\u200c.git/c']) assert.match(relPathProblem(p) ?? '', /reserved/, p);
  for (const p of ['a/.gitignore', '.github/workflows/ci.yml', 'train/img.png', 'test/x', 'tdvc/x', 'データ/ファイル.txt']) assert.equal(relPathProblem(p), undefined, p);
  assert.match(relPathProblem('a/\uFFFDb') ?? '', /U\+FFFD/);
});
