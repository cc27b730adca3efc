import { DvcFileError } from './dvc-file-error.js';

/**
 * The YAML DVC writes in `.dvc` files, `dvc.lock` and (mostly) `dvc.yaml`: block mappings and
 * sequences (a sequence may sit at its key's indentation, as DVC writes `outs:\n- md5: …`), plain,
 * single- and double-quoted scalars, `|`/`>` block scalars, comments, and the empty `[]` and `{}`.
 * Everything else YAML allows — anchors, aliases, tags, flow collections, multi-line plain scalars,
 * several documents — is refused with the line, never guessed at: a committed file may be a
 * stranger's, and a full YAML parser (200 KB of dependency) would be a lot of surface for the few
 * keys the importer reads. Scalars stay strings: callers check each value they use.
 */
export type YamlValue = string | null | YamlValue[] | YamlMap;
export type YamlMap = Map<string, YamlValue>;

/** Deeper nesting than this is refused (DVC's files are 5 levels deep at most). */
const MAX_DEPTH = 32;

interface Line {
  indent: number;
  text: string;
  no: number;
}

export function parseYamlSubset(text: string, where: string): YamlValue {
  const lines: Line[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i]!.replace(/\r$/, '');
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    if (i === 0 && line === '---') continue;
    const indent = line.length - body.length;
    if (line.slice(0, indent).includes('\t')) throw new DvcFileError(where, 'a tab in indentation', i + 1);
    lines.push({ indent, text: body.replace(/\s+$/, ''), no: i + 1 });
  }
  if (lines.length === 0) return null;
  const p = new Parser(lines, where, raw);
  const value = p.node(lines[0]!.indent, 0);
  if (p.pos < lines.length) throw new DvcFileError(where, 'unexpected indentation', lines[p.pos]!.no);
  return value;
}

class Parser {
  pos = 0;
  constructor(
    private readonly lines: Line[],
    private readonly where: string,
    private readonly raw: string[],
  ) {}

  private fail(reason: string, no: number): never {
    throw new DvcFileError(this.where, reason, no);
  }

  node(indent: number, depth: number): YamlValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`, this.lines[this.pos]!.no);
    const first = this.lines[this.pos]!;
    return isItem(first.text) ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  private sequence(indent: number, depth: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) this.fail('unexpected indentation', line.no);
      if (!isItem(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.pos++;
        const next = this.lines[this.pos];
        out.push(next && next.indent > indent ? this.node(next.indent, depth + 1) : null);
      } else if (keyOf(rest) !== undefined || isItem(rest)) {
        // `- key: value`: a mapping (or a nested sequence) whose column is that of the key
        const col = line.indent + (line.text.length - rest.length);
        this.lines[this.pos] = { indent: col, text: rest, no: line.no };
        out.push(this.node(col, depth + 1));
      } else {
        this.pos++;
        out.push(this.scalar(rest, line.no));
      }
    }
    return out;
  }

  private mapping(indent: number, depth: number): YamlMap {
    const out: YamlMap = new Map();
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) this.fail('unexpected indentation', line.no);
      if (isItem(line.text)) break;
      const kv = keyOf(line.text);
      if (!kv) this.fail('expected "key: value"', line.no);
      const key = kv.quoted ? this.scalar(kv.key, line.no) ?? '' : kv.key;
      if (out.has(key)) this.fail(`duplicate key ${JSON.stringify(key.slice(0, 60))}`, line.no);
      this.pos++;
      const rest = kv.rest;
      if (rest === '') {
        const next = this.lines[this.pos];
        if (next && next.indent > indent) out.set(key, this.node(next.indent, depth + 1));
        else if (next && next.indent === indent && isItem(next.text)) out.set(key, this.sequence(indent, depth + 1));
        else out.set(key, null);
      } else if (/^[|>][+-]?$/.test(rest)) {
        out.set(key, this.blockScalar(indent, rest, line.no));
      } else {
        out.set(key, this.scalar(rest, line.no));
        const next = this.lines[this.pos];
        if (next && next.indent > indent) this.fail('a value continued on the next line (not supported: quote it on one line)', next.no);
      }
    }
    return out;
  }

  /** `|` keeps line breaks, `>` folds them to spaces; `-` strips the final one. Read from the raw text (blank lines count). */
  private blockScalar(indent: number, style: string, no: number): string {
    const parts: string[] = [];
    let blockIndent: number | undefined;
    let i = no; // raw index of the line after the header
    while (i < this.raw.length) {
      const line = this.raw[i]!.replace(/\r$/, '');
      if (line.trim() === '') {
        parts.push('');
        i++;
        continue;
      }
      const ind = line.length - line.trimStart().length;
      if (ind <= indent) break;
      blockIndent ??= ind;
      if (ind < blockIndent) this.fail('a block scalar line less indented than its first', i + 1);
      parts.push(line.slice(blockIndent));
      i++;
    }
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    while (this.pos < this.lines.length && this.lines[this.pos]!.no <= i) this.pos++;
    const body = style.startsWith('|') ? parts.join('\n') : parts.join(' ');
    return style.endsWith('-') ? body : `${body}\n`;
  }

  private scalar(s: string, no: number): string | null {
    if (s.startsWith("'")) {
      const m = /^'((?:[^']|'')*)'(?:\s+#.*)?$/.exec(s);
      if (!m) this.fail('an unterminated or malformed single-quoted string', no);
      return m[1]!.replace(/''/g, "'");
    }
    if (s.startsWith('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"(?:\s+#.*)?$/.exec(s);
      if (!m) this.fail('an unterminated or malformed double-quoted string', no);
      return m[1]!.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_all, e: string) => {
        if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0', ' ': ' ' };
        const out = simple[e];
        if (out === undefined) this.fail('an escape sequence this reader does not know', no);
        return out;
      });
    }
    const plain = s.replace(/\s+#.*$/, '');
    if (plain === '[]' || plain === '{}') return plain;
    if (/^[&*!{[%@`|>]/.test(plain)) this.fail('anchors, aliases, tags and flow collections are not supported', no);
    if (plain === '~' || plain === 'null') return null;
    return plain;
  }
}

function isItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** `key: rest` (plain or quoted key); undefined when the line is no mapping entry. */
function keyOf(text: string): { key: string; quoted: boolean; rest: string } | undefined {
  const q = /^('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"):(?:\s+(.*))?$/.exec(text);
  if (q) return { key: q[1]!, quoted: true, rest: (q[2] ?? '').trim() };
  const m = /^([^\s'"#&*!{}[\]|>%@`-][^:#]*?|-[^\s:#][^:#]*?):(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  return { key: m[1]!, quoted: false, rest: (m[2] ?? '').trim() };
}

/** Reading helpers for callers: a value of the expected shape, or undefined. */
export function asMap(v: YamlValue | undefined): YamlMap | undefined {
  return v instanceof Map ? v : undefined;
}

export function asList(v: YamlValue | undefined): YamlValue[] | undefined {
  if (v === '[]') return [];
  return Array.isArray(v) ? v : undefined;
}
