import { DvcFileError } from './dvc-file-error.js';

/**
 * DVC's `.dvc/config` (configobj INI): `[core]`, `['remote "name"']` (or `[remote "name"]`),
 * `[cache]`, then `key = value` (values possibly quoted). Sections are named `remote.NAME` here.
 */
export type DvcConfig = Map<string, Map<string, string>>;

export function parseDvcConfig(text: string, where: string): DvcConfig {
  const out: DvcConfig = new Map();
  let current: Map<string, string> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[\s*'?([A-Za-z0-9_-]+)(?:\s+"([^"\\\n]+)")?'?\s*\]$/.exec(line);
    if (sec) {
      const name = sec[2] === undefined ? sec[1]! : `${sec[1]}.${sec[2]}`;
      current = out.get(name) ?? new Map();
      out.set(name, current);
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    // not echoed: the file may be a stranger's
    if (!kv || !current) throw new DvcFileError(where, kv ? 'a setting before any [section]' : 'expected "[section]" or "key = value"', i + 1);
    let value = kv[2]!.trim();
    const q = /^(['"])(.*)\1$/.exec(value);
    if (q) value = q[2]!;
    current.set(kv[1]!, value);
  }
  return out;
}

/** `local` overrides `repo`, key by key (as DVC merges config.local over config). */
export function mergeDvcConfig(repo: DvcConfig, local: DvcConfig): DvcConfig {
  const out: DvcConfig = new Map();
  for (const src of [repo, local]) {
    for (const [name, values] of src) {
      const m = out.get(name) ?? new Map<string, string>();
      for (const [k, v] of values) m.set(k, v);
      out.set(name, m);
    }
  }
  return out;
}
