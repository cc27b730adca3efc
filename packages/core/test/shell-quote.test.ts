import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { shellQuote } from '../src/util/shell-quote.js';

test('shellQuote leaves plain words alone and quotes everything else', () => {
  for (const w of ['data', 'data/images', 'models/v1.2/weights.bin', 'a_b-c+d=e:f,g@h%i']) assert.equal(shellQuote(w), w);
  assert.equal(shellQuote('my data'), `'my data'`);
  assert.equal(shellQuote(`it's`), `'it'\\''s'`);
  assert.equal(shellQuote(''), `''`);
});

test('shellQuote round-trips through sh: one argument, exactly the text', () => {
  const hard = [
    'data/images',
    'my data',
    `it's "quoted"`,
    '$HOME and $(rm -rf /) and `id`',
    'a\\b',
    '*.bin ?[x]',
    '~user',
    '-n',
    'tab\there',
    'new\nline',
    `'`,
    `''`,
    '!history',
    'a;b&c|d>e<f',
    '{a,b}',
    '#not a comment',
    'ünïcödé データ',
    '',
  ];
  for (const s of hard) {
    const quoted = shellQuote(s);
    // the shell parses the quoted word; printf's %s then shows exactly the argument it got
    const r = spawnSync('sh', ['-c', `printf '%s|' ${quoted}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${s}|`, `${JSON.stringify(s)} quoted as ${quoted}`);
  }
});
