// The error catalogue: every code is used somewhere in the sources, and the README's table lists
// exactly the catalogue's codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, isErrorCode, TdvcError } from '../src/index.js';

// dist/test/ → the repository root
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

test('every catalogued error code is used in the sources (outside the catalogue itself)', () => {
  let text = '';
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const src = join(ROOT, 'packages', pkg, 'src');
    try {
      statSync(src);
    } catch {
      continue;
    }
    for (const f of sources(src)) {
      let body = readFileSync(f, 'utf8');
      if (f.endsWith(join('core', 'src', 'errors.ts'))) body = body.replace(/export const ERROR_CODES = \{[\s\S]*?\n\} as const;/, '');
      text += body;
    }
  }
  assert.ok(text.length > 100_000, 'the sources were found');
  const unused = Object.keys(ERROR_CODES).filter((c) => !text.includes(`'${c}'`));
  assert.deepEqual(unused, [], 'codes in the catalogue that nothing throws');
});

test("the README's error table lists exactly the catalogue's codes", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('### Settings'));
  assert.ok(section.length > 0, 'README has an "Error codes" section before "Settings"');
  const listed = [...section.matchAll(/^\| `(E[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...listed].sort(), Object.keys(ERROR_CODES).sort());
});

test('codes are typed: isErrorCode knows the catalogue, and a TdvcError carries one', () => {
  assert.equal(isErrorCode('EMISSING'), true);
  assert.equal(isErrorCode('ENOPE'), false);
  assert.equal(isErrorCode('toString'), false, 'not fooled by Object.prototype');
  assert.equal(new TdvcError('EUSAGE', 'x').code, 'EUSAGE');
});
