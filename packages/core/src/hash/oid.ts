/** An object id: the lowercase hex BLAKE3-256 digest of the object's bytes. */
export type Oid = string;

const OID_RE = /^[0-9a-f]{64}$/;

export function isOid(value: string): value is Oid {
  return OID_RE.test(value);
}

export const HASH_PREFIX = 'blake3:';
