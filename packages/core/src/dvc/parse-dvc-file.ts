import { DvcFileError } from './dvc-file-error.js';
import { asList, asMap, parseYamlSubset, type YamlMap, type YamlValue } from './yaml-subset.js';

/**
 * How DVC computed an output's md5: `md5` (DVC 3, `hash: md5`: the md5 of the bytes, objects under
 * `files/md5/`), or `md5-dos2unix` (DVC 2, no `hash` key: for text files the md5 of the bytes with
 * CRLF turned into LF, objects under the cache root).
 */
export type DvcHashKind = 'md5' | 'md5-dos2unix';

/** One output of a `.dvc` file or a `dvc.lock` stage, as DVC recorded it. */
export interface DvcOut {
  /** as written: relative to the file's folder */
  path: string;
  /** 32 hex digits (a folder's without its `.dir`) */
  md5: string | undefined;
  dir: boolean;
  size: number | undefined;
  nfiles: number | undefined;
  hashKind: DvcHashKind;
  /** `cache: false`: DVC never stored it */
  cached: boolean;
  /** line-free description for reports: "out 2" */
  label: string;
}

export interface DvcFile {
  outs: DvcOut[];
  /** `deps:` present: made by `dvc import` / `import-url` (the source stays DVC's) */
  hasDeps: boolean;
}

export interface DvcLockStage {
  name: string;
  outs: DvcOut[];
  hasParams: boolean;
}

/** `.dvc` files and `dvc.lock` are small; larger ones are refused before parsing. */
export const DVC_FILE_LIMIT = 1 << 20;
export const DVC_LOCK_LIMIT = 16 << 20;

const DVC_FILE_KEYS = new Set(['outs', 'md5', 'frozen', 'deps', 'wdir', 'meta', 'desc']);
const OUT_KEYS = new Set(['md5', 'size', 'nfiles', 'path', 'hash', 'cache', 'persist', 'push', 'remote', 'desc', 'type', 'labels', 'meta', 'isexec', 'etag', 'checkpoint']);

export function parseDvcFile(text: string, where: string): DvcFile {
  const top = asMap(parseYamlSubset(text, where));
  if (!top) throw new DvcFileError(where, 'not a .dvc file (expected a mapping with "outs")');
  for (const k of top.keys()) if (!DVC_FILE_KEYS.has(k)) throw new DvcFileError(where, `unknown key ${JSON.stringify(k.slice(0, 40))} (tdvc reads DVC 2 and 3 .dvc files)`);
  const wdir = top.get('wdir');
  if (wdir !== undefined && wdir !== '.' && wdir !== null) throw new DvcFileError(where, '"wdir" other than "." is not supported');
  const outs = asList(top.get('outs'));
  if (!outs) throw new DvcFileError(where, '"outs" must be a list');
  return { outs: outs.map((o, i) => parseOut(o, where, `out ${i + 1}`)), hasDeps: top.has('deps') };
}

/** `dvc.lock` of schema 2.0 (DVC 2 and 3): its stages' outputs; the rest (cmd, deps, params) stays DVC's. */
export function parseDvcLock(text: string, where: string): DvcLockStage[] {
  const top = asMap(parseYamlSubset(text, where));
  if (!top) throw new DvcFileError(where, 'not a dvc.lock (expected a mapping)');
  if (top.get('schema') !== '2.0') throw new DvcFileError(where, 'only dvc.lock schema 2.0 (DVC 2 and 3) is supported; run a DVC 2+ "dvc commit" to upgrade it');
  const stages = asMap(top.get('stages') ?? new Map());
  if (!stages) throw new DvcFileError(where, '"stages" must be a mapping');
  const out: DvcLockStage[] = [];
  for (const [name, v] of stages) {
    const stage = asMap(v);
    if (!stage) throw new DvcFileError(where, `stage ${JSON.stringify(name.slice(0, 60))} must be a mapping`);
    const outs = asList(stage.get('outs') ?? []);
    if (!outs) throw new DvcFileError(where, `stage ${JSON.stringify(name.slice(0, 60))}: "outs" must be a list`);
    out.push({ name, outs: outs.map((o, i) => parseOut(o, where, `stage ${name} out ${i + 1}`)), hasParams: stage.has('params') });
  }
  return out;
}

/**
 * Paths a `dvc.yaml` declares as metrics or plots, or with `cache: false` (relative to its folder):
 * they stay DVC's. Undefined when the file is beyond the YAML this reader takes (the caller reports it).
 */
export function dvcYamlKeptPaths(text: string, where: string): Set<string> | undefined {
  let top: YamlMap | undefined;
  try {
    top = asMap(parseYamlSubset(text, where));
  } catch {
    return undefined;
  }
  if (!top) return undefined;
  const kept = new Set<string>();
  const collect = (list: YamlValue | undefined, all: boolean): void => {
    for (const item of asList(list) ?? []) {
      if (typeof item === 'string') {
        if (all) kept.add(item);
      } else if (item instanceof Map) {
        for (const [path, opts] of item) {
          if (all || asMap(opts)?.get('cache') === 'false') kept.add(path);
        }
      }
    }
  };
  collect(top.get('metrics'), true);
  collect(top.get('plots'), true);
  for (const [, v] of asMap(top.get('stages')) ?? new Map<string, YamlValue>()) {
    const stage = asMap(v);
    if (!stage) continue;
    collect(stage.get('metrics'), true);
    collect(stage.get('plots'), true);
    collect(stage.get('outs'), false);
  }
  return kept;
}

function parseOut(v: YamlValue, where: string, label: string): DvcOut {
  const o = asMap(v);
  if (!o) throw new DvcFileError(where, `${label} must be a mapping`);
  for (const k of o.keys()) if (!OUT_KEYS.has(k)) throw new DvcFileError(where, `${label}: unknown key ${JSON.stringify(k.slice(0, 40))}`);
  const path = o.get('path');
  if (typeof path !== 'string' || path === '') throw new DvcFileError(where, `${label}: "path" must be a path`);
  const hash = o.get('hash');
  if (hash !== undefined && hash !== 'md5') throw new DvcFileError(where, `${label}: "hash" must be md5 (tdvc reads DVC's md5 outputs only)`);
  const md5Text = o.get('md5');
  let md5: string | undefined;
  let dir = false;
  if (md5Text !== undefined && md5Text !== null) {
    const m = typeof md5Text === 'string' ? /^([0-9a-f]{32})(\.dir)?$/.exec(md5Text) : null;
    if (!m) throw new DvcFileError(where, `${label}: "md5" must be 32 lowercase hex digits (with ".dir" for a folder)`);
    md5 = m[1]!;
    dir = m[2] !== undefined;
  }
  const cache = o.get('cache');
  if (cache !== undefined && cache !== 'true' && cache !== 'false') throw new DvcFileError(where, `${label}: "cache" must be true or false`);
  return {
    path,
    md5,
    dir,
    size: count(o.get('size'), where, `${label}: "size"`),
    nfiles: count(o.get('nfiles'), where, `${label}: "nfiles"`),
    hashKind: hash === 'md5' ? 'md5' : 'md5-dos2unix',
    cached: cache !== 'false',
    label,
  };
}

function count(v: YamlValue | undefined, where: string, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v)) throw new DvcFileError(where, `${what} must be a whole number`);
  return Number(v);
}

/** A `.dir` object: DVC's JSON list of `{"md5", "relpath"}` (sorted by relpath). */
export interface DvcDirEntry {
  md5: string;
  relpath: string;
}

export function parseDvcDir(bytes: Buffer, where: string): DvcDirEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DvcFileError(where, 'not a JSON list (a DVC .dir object)');
  }
  if (!Array.isArray(data)) throw new DvcFileError(where, 'not a JSON list (a DVC .dir object)');
  return data.map((e: unknown, i) => {
    const rec = e as Record<string, unknown> | null;
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new DvcFileError(where, `entry ${i + 1} is not an object`);
    const md5 = rec['md5'];
    const relpath = rec['relpath'];
    if (typeof md5 !== 'string' || !/^[0-9a-f]{32}$/.test(md5)) throw new DvcFileError(where, `entry ${i + 1}: "md5" must be 32 lowercase hex digits`);
    if (typeof relpath !== 'string') throw new DvcFileError(where, `entry ${i + 1}: "relpath" must be a string`);
    for (const k of Object.keys(rec)) {
      if (k !== 'md5' && k !== 'relpath' && k !== 'size' && k !== 'isexec' && k !== 'nfiles') throw new DvcFileError(where, `entry ${i + 1}: unknown key ${JSON.stringify(k.slice(0, 40))}`);
    }
    return { md5, relpath };
  });
}
