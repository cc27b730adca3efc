import { MalformedFileError } from '../errors.js';

/** A small INI dialect like Git's config: `[section]` or `[section "name"]`, then `key = value`. */
export type IniData = Map<string, Map<string, string>>;

export function parseIni(text: string, where: string): IniData {
  const out: IniData = new Map();
  let current: Map<string, string> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z0-9_-]+)(?:\s+"([^"\\]+)")?\]$/.exec(line);
    if (sec) {
      const name = sec[2] === undefined ? sec[1]! : `${sec[1]}.${sec[2]}`;
      current = out.get(name) ?? new Map();
      out.set(name, current);
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    // the line itself is not echoed: the file may be a stranger's, or not a config file at all
    if (!kv || !current) throw new MalformedFileError(where, kv ? 'a setting before any [section]' : 'expected "[section]" or "key = value"', i + 1);
    current.set(kv[1]!, kv[2]!);
  }
  return out;
}

export function serializeIni(data: IniData): string {
  const parts: string[] = [];
  for (const [name, values] of [...data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (values.size === 0) continue;
    const dot = name.indexOf('.');
    parts.push(dot < 0 ? `[${name}]` : `[${name.slice(0, dot)} "${name.slice(dot + 1)}"]`);
    for (const [k, v] of [...values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) parts.push(`    ${k} = ${v}`);
  }
  return parts.length === 0 ? '' : parts.join('\n') + '\n';
}
