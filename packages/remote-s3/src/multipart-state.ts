import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isOid, writeFileAtomic, type Oid } from '@tdvc/core';

/** What a resumed upload must agree on with the one that was started; anything else means start over. */
export interface UploadIdentity {
  bucket: string;
  key: string;
  size: number;
  partSize: number;
  /**
   * how parts are protected besides the SHA-256 every signed request carries for its body: 'CRC32'
   * (flexible checksums, stored with the part) or 'SIGNED' (nothing more). State files of older
   * versions say 'MD5' or 'TLS': they do not match, so those uploads are aborted and started again.
   */
  checksum: 'CRC32' | 'SIGNED';
  sse: string;
  sseKmsKeyId: string;
  storageClass: string;
}

export interface PartRecord {
  etag: string;
  size: number;
  crc32?: string;
}

export interface MultipartState extends UploadIdentity {
  version: 1;
  uploadId: string;
  endpoint: string;
  createdAt: number;
  /** finished parts by part number, as this client saw them; ListParts has the last word */
  parts: Record<string, PartRecord>;
}

export function sameUpload(a: UploadIdentity, b: UploadIdentity): boolean {
  return (
    a.bucket === b.bucket &&
    a.key === b.key &&
    a.size === b.size &&
    a.partSize === b.partSize &&
    a.checksum === b.checksum &&
    a.sse === b.sse &&
    a.sseKmsKeyId === b.sseKmsKeyId &&
    a.storageClass === b.storageClass
  );
}

/**
 * One JSON file per unfinished multipart upload, in the remote's workspace state folder, named by
 * the object id: a killed `tdvc push` finds its upload id and parts again on the next run.
 */
export class MultipartStateStore {
  readonly dir: string;
  private made = false;
  /** writes of one upload are chained so a slow earlier write never lands after a later one */
  private readonly chains = new Map<Oid, Promise<void>>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'multipart');
  }

  pathOf(oid: Oid): string {
    return join(this.dir, `${oid}.json`);
  }

  async load(oid: Oid): Promise<MultipartState | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(oid), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const st = JSON.parse(text) as MultipartState;
      if (st.version !== 1 || typeof st.uploadId !== 'string' || typeof st.parts !== 'object' || st.parts === null) throw new Error('bad');
      return st;
    } catch {
      // a damaged state file only costs a restart of that upload
      await this.remove(oid);
      return undefined;
    }
  }

  save(oid: Oid, state: MultipartState): Promise<void> {
    const text = JSON.stringify(state);
    const prev = this.chains.get(oid) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (!this.made) {
        await mkdir(this.dir, { recursive: true });
        this.made = true;
      }
      await writeFileAtomic(this.pathOf(oid), text);
    });
    const settled = next.catch(() => {});
    this.chains.set(oid, settled);
    void settled.then(() => {
      if (this.chains.get(oid) === settled) this.chains.delete(oid);
    });
    return next;
  }

  async remove(oid: Oid): Promise<void> {
    await (this.chains.get(oid) ?? Promise.resolve());
    await rm(this.pathOf(oid), { force: true });
  }

  async list(): Promise<Array<{ oid: Oid; state: MultipartState }>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: Array<{ oid: Oid; state: MultipartState }> = [];
    for (const n of names) {
      const oid = n.replace(/\.json$/, '');
      if (!n.endsWith('.json') || !isOid(oid)) continue;
      const state = await this.load(oid);
      if (state) out.push({ oid, state });
    }
    return out;
  }
}
