/**
 * How objects are named wherever they are stored: the one place that knows it. An object lives at
 * `b3v1/<first 2 hex digits>/<other 62>` below a root: the cache folder, a folder remote, or an S3
 * remote's prefix (where the same path is the key). The layout version is the first component, so
 * a future format can live beside this one. Every reader and writer of objects, the remotes
 * included, names and recognises them through these functions (as pnpm's `getFilePathInCafs` and
 * cacache's `content/path.js` do).
 */
import { join } from 'node:path';
import type { Oid } from '../hash/oid.js';

/** The layout folder's name, first component of every object path. */
export const LAYOUT = 'b3v1';
/** `b3v1/`: the key prefix of every object below a remote's root. */
export const LAYOUT_KEY = `${LAYOUT}/`;

const FAN_LENGTH = 2;
const FAN_NAME = /^[0-9a-f]{2}$/;
const OBJECT_NAME = /^[0-9a-f]{62}$/;
const OBJECT_TAIL = /^[0-9a-f]{2}\/[0-9a-f]{62}$/;

/** The 256 fan-out folder names, `00` … `ff`. */
export const FANS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(FAN_LENGTH, '0'));

/** The fan-out folder an object lives in. */
export function fanOf(oid: Oid): string {
  return oid.slice(0, FAN_LENGTH);
}

/** An object's name inside its fan-out folder: the id without the folder's two digits. */
export function objectName(oid: Oid): string {
  return oid.slice(FAN_LENGTH);
}

/** `b3v1/ab/cdef…`: an object's '/'-separated path below a root (its key below an S3 prefix). */
export function objectKey(oid: Oid): string {
  return `${LAYOUT}/${fanOf(oid)}/${objectName(oid)}`;
}

/** `b3v1/ab/`: the key prefix of one fan-out folder below a root. */
export function fanKey(fan: string): string {
  return `${LAYOUT}/${fan}/`;
}

/** The layout folder below `root`. */
export function layoutDir(root: string): string {
  return join(root, LAYOUT);
}

/** One fan-out folder below `root`. */
export function fanDir(root: string, fan: string): string {
  return join(root, LAYOUT, fan);
}

/** Where an object lives below `root`. */
export function objectPath(root: string, oid: Oid): string {
  return join(root, LAYOUT, fanOf(oid), objectName(oid));
}

/** Whether `name` is a fan-out folder's name (anything else in the layout folder is not an object folder). */
export function isFanName(name: string): boolean {
  return FAN_NAME.test(name);
}

/** The object named `name` in fan-out folder `fan`, or undefined for anything else (temp files, junk). */
export function oidOfEntry(fan: string, name: string): Oid | undefined {
  return FAN_NAME.test(fan) && OBJECT_NAME.test(name) ? fan + name : undefined;
}

/** The object at `tail` = `ab/cdef…` (a path or key below the layout folder), or undefined. */
export function oidOfTail(tail: string): Oid | undefined {
  return OBJECT_TAIL.test(tail) ? tail.slice(0, FAN_LENGTH) + tail.slice(FAN_LENGTH + 1) : undefined;
}
