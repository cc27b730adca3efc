import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { isErrno } from '../errors.js';

/**
 * The checkout journal of one dataset: which files a checkout is about to write, and how big they
 * will be. Files are written in place (no scratch file and rename), so a checkout killed mid-file
 * leaves a short file under its real name; the journal lets the next checkout recognise it as its
 * own unfinished work rather than a user's change to protect.
 */
export interface Journal {
  host: string;
  pid: number;
  startedMs: number;
  files: Record<string, number>;
}

/** Where the checkout journals of a workspace live (inside its private tmp folder). */
export function checkoutJournalDir(tmpDir: string): string {
  return join(tmpDir, 'journal');
}

function journalFile(dir: string, dataPath: string): string {
  return join(dir, createHash('sha1').update(dataPath).digest('hex').slice(0, 16) + '.json');
}

export async function writeJournal(dir: string, dataPath: string, files: Array<{ path: string; size: number }>): Promise<void> {
  await ensureDir(dir);
  // written as text piece by piece: an object with 100,000 keys is a lot of memory for a list
  const head = JSON.stringify({ host: hostname(), pid: process.pid, startedMs: Date.now() }).slice(0, -1);
  const body = files.map((f) => `${JSON.stringify(f.path)}:${f.size}`).join(',');
  await writeFileAtomic(journalFile(dir, dataPath), `${head},"files":{${body}}}`);
}

export async function clearJournal(dir: string, dataPath: string): Promise<void> {
  await rm(journalFile(dir, dataPath), { force: true });
}

/**
 * A predicate telling whether a workspace file is the half-written leftover of a killed checkout:
 * listed in a journal whose process is gone, no bigger than the file was going to be, and
 * modified after that checkout started. A live checkout's journal vouches for nothing.
 */
export function loadPartialCheck(dir: string, dataPath: string): (path: string, size: number, mtimeMs: number) => boolean {
  let j: Journal;
  try {
    j = JSON.parse(readFileSync(journalFile(dir, dataPath), 'utf8')) as Journal;
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    return () => false;
  }
  if (j.host !== hostname() || isAlive(j.pid)) return () => false;
  return (path, size, mtimeMs) => {
    const planned = j.files[path];
    return planned !== undefined && size <= planned && mtimeMs >= j.startedMs - 2000;
  };
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}
