// The transfer plan: pure, no disk. What a push or fetch moves, in which order, and what it counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTransfer, type TransferItem } from '../src/index.js';

const oid = (c: string): string => c.repeat(64);
const file = (c: string, size: number): TransferItem => ({ oid: oid(c), size, isManifest: false });
const list = (c: string, size: number): TransferItem => ({ oid: oid(c), size, isManifest: true });

test('planTransfer: what the other side lacks, each object once, files apart from manifests, bytes of what moves', () => {
  const items = [file('a', 10), list('m', 3), file('b', 20), file('a', 10), file('c', 30), list('n', 4), file('b', 20)];
  const plan = planTransfer(items, new Set([oid('c'), oid('n')]));
  assert.deepEqual(plan.files.map((f) => f.oid), [oid('a'), oid('b')], 'in first-seen order, duplicates once');
  assert.deepEqual(plan.manifests.map((m) => m.oid), [oid('m')]);
  assert.equal(plan.present, 2, 'c and n are there already, counted once each');
  assert.equal(plan.bytes, 10 + 20 + 3);
});

test('planTransfer: nothing to move when everything is there; everything when nothing is', () => {
  const items = [file('a', 1), list('m', 2)];
  assert.deepEqual(planTransfer(items, new Set([oid('a'), oid('m')])), { files: [], manifests: [], present: 2, bytes: 0 });
  const all = planTransfer(items, new Set());
  assert.equal(all.files.length + all.manifests.length, 2);
  assert.equal(all.present, 0);
  assert.deepEqual(planTransfer([], new Set()), { files: [], manifests: [], present: 0, bytes: 0 });
});
