import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networkBound, StreamPace, worthSplitting, type PaceSample } from '../src/download-pace.js';

const MiB = 1024 * 1024;
const sample = (over: Partial<PaceSample>): PaceSample => ({ received: 32 * MiB, remaining: 512 * MiB, waitingMs: 900, busyMs: 100, partSize: 16 * MiB, ...over });

test('a stream is split only when the consumer mostly waits for the network', () => {
  assert.equal(networkBound(sample({})), true, '90 % waiting: S3 at ~100 MB/s per connection');
  assert.equal(networkBound(sample({ waitingMs: 460, busyMs: 540 })), false, '46 % waiting: the local side is the limit (RGW on this machine)');
  assert.equal(networkBound(sample({ waitingMs: 750, busyMs: 250 })), true, 'exactly the threshold');
  assert.equal(networkBound(sample({ waitingMs: 0, busyMs: 0 })), false, 'nothing measured');
});

test('a split is considered only after one part arrived and with two parts to go', () => {
  assert.equal(worthSplitting(sample({})), true);
  assert.equal(worthSplitting(sample({ received: 8 * MiB })), false, 'less than a part arrived: start-up dominates');
  assert.equal(worthSplitting(sample({ remaining: 31 * MiB })), false, 'less than two parts left: not worth new connections');
  assert.equal(worthSplitting(sample({ received: 16 * MiB, remaining: 32 * MiB })), true, 'the edges count');
});

test('StreamPace splits a loop into waiting for chunks and handling them, not counting the first byte', async () => {
  const pace = new StreamPace();
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await sleep(30); // before the first chunk: time to first byte, not counted
  pace.arrived();
  await sleep(20); // handling
  pace.handled();
  await sleep(60); // waiting for the next chunk
  pace.arrived();
  pace.handled();
  assert.ok(pace.waitingMs >= 55 && pace.waitingMs < 200, `waited ${pace.waitingMs}`);
  assert.ok(pace.busyMs >= 15 && pace.busyMs < 200, `busy ${pace.busyMs}`);
});
