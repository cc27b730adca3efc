import { parentPort, workerData } from 'node:worker_threads';
import { walkSorted } from './walk.js';
import { serializeError } from './worker-errors.js';
import { FIELDS, type WalkWorkerData } from './walk-thread.js';

/**
 * The worker side of WalkThread: walks the folder in canonical order and posts its files a window
 * at a time (names, and stat numbers in one transferred array), waiting for a credit before each
 * window so that no more than a few windows are ever ahead of the reader.
 */
const { dir, objectsDir, ignore, window, credits } = workerData as WalkWorkerData;
const credit = new Int32Array(credits);

function takeCredit(): void {
  for (;;) {
    const have = Atomics.load(credit, 0);
    if (have > 0) {
      if (Atomics.compareExchange(credit, 0, have, have - 1) === have) return;
      continue;
    }
    Atomics.wait(credit, 0, have);
  }
}

let rels: string[] = [];
let nums = new Float64Array(window * FIELDS);
function send(): void {
  takeCredit();
  parentPort!.postMessage({ rels, nums }, [nums.buffer]);
  rels = [];
  nums = new Float64Array(window * FIELDS);
}

try {
  for (const f of walkSorted(dir, { ...(objectsDir === undefined ? {} : { objectsDir }), ...(ignore === undefined ? {} : { ignore }) })) {
    const at = rels.length * FIELDS;
    nums[at] = f.ino;
    nums[at + 1] = f.size;
    nums[at + 2] = f.mtimeMs;
    nums[at + 3] = f.exec ? 1 : 0;
    rels.push(f.rel);
    if (rels.length === window) send();
  }
  if (rels.length > 0) send();
  parentPort!.postMessage({ done: true });
} catch (err) {
  parentPort!.postMessage({ error: serializeError(err) });
}
