import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A package.json as far as the registry reads it. */
export interface PackedManifest {
  name: string;
  version: string;
  [key: string]: unknown;
}

/**
 * The bytes of one entry of a gzipped tarball (`npm pack`/`pnpm pack` output), or undefined.
 * Reads ustar headers only: the name (with its prefix field), the octal size, the data padded to
 * 512 bytes; pax and other non-file entries are skipped.
 */
export function readTarEntry(tgz: Buffer, path: string): Buffer | undefined {
  const tar = gunzipSync(tgz);
  let at = 0;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const field = (from: number, to: number): string => header.subarray(from, to).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 500);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const type = field(156, 157);
    if ((type === '0' || type === '') && name === path) return Buffer.from(tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/** `package/package.json` of a packed tarball. */
export function readPackedManifest(tgz: Buffer): PackedManifest {
  const bytes = readTarEntry(tgz, 'package/package.json');
  if (!bytes) throw new Error('tarball has no package/package.json');
  return JSON.parse(bytes.toString('utf8')) as PackedManifest;
}

/**
 * A minimal npm registry on 127.0.0.1 serving the given tarballs, for installing unpublished
 * packages with the real `npm` (scope pointed here with `--@scope:registry=URL`):
 * `GET /@scope%2fname` (or `/@scope/name`) → the packument, `GET /@scope/name/-/name-V.tgz` → the
 * bytes (several tarballs of one name: the last one given is `latest`). Anything else is 404, so a
 * package it does not hold is never silently found elsewhere. `requests` records what clients asked for.
 */
export async function startNpmRegistry(tarballs: string[]): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const packs = tarballs.map((file) => {
    const bytes = readFileSync(file);
    return { bytes, manifest: readPackedManifest(bytes) };
  });
  // filled once the port is known: the packuments carry absolute tarball URLs
  const docs = new Map<string, Buffer>();
  const files = new Map<string, Buffer>();
  const server: Server = createServer((req, res) => {
    // npm asks for a scoped package as /@scope%2fname
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    requests.push(`${req.method} ${path}`);
    const doc = docs.get(path.slice(1));
    const body = req.method !== 'GET' ? undefined : (doc ?? files.get(path));
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found' }));
      return;
    }
    res.writeHead(200, { 'content-type': doc ? 'application/json' : 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const name of new Set(packs.map((p) => p.manifest.name))) {
    const versions: Record<string, unknown> = {};
    for (const { bytes, manifest } of packs.filter((p) => p.manifest.name === name)) {
      const tarPath = `/${name}/-/${name.split('/').pop()}-${manifest.version}.tgz`;
      files.set(tarPath, bytes);
      versions[manifest.version] = {
        ...manifest,
        _id: `${name}@${manifest.version}`,
        dist: {
          tarball: `${base}${tarPath}`,
          shasum: createHash('sha1').update(bytes).digest('hex'),
          integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        },
      };
    }
    const latest = Object.keys(versions).at(-1) as string;
    docs.set(name, Buffer.from(JSON.stringify({ name, 'dist-tags': { latest }, versions })));
  }
  return {
    url: `${base}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
