import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LINK_TYPES } from '../util/link-support.js';
import type { DvcConfig } from './dvc-config.js';

/** A tdvc setting to make, from DVC's config. */
export interface MappedSetting {
  key: string;
  value: string;
}

export interface SettingsPlan {
  settings: MappedSetting[];
  /** what was not mapped, and why (reported) */
  skipped: string[];
}

const REMOTE_NAME = /^[A-Za-z0-9_-]+$/;
/** DVC's S3 remote options with a tdvc twin */
const S3_OPTIONS: Record<string, string> = { endpointurl: 'endpoint_url', region: 'region', profile: 'profile' };
const S3_SECRETS = new Set(['access_key_id', 'secret_access_key', 'session_token', 'credentialpath', 'configpath']);

/** A DVC folder remote's folder: DVC reads a relative url from the folder of the config file (`.dvc/`). */
export function dvcLocalRemoteDir(url: string, dvcDir: string): string | undefined {
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  return isAbsolute(url) ? url : resolve(dvcDir, url);
}

/**
 * What DVC's remotes and cache settings become in tdvc: an S3 remote keeps its URL (tdvc's objects
 * go under `b3v1/` beside DVC's `files/` and two-hex folders; its endpoint, region and profile
 * carry over; credentials never do), a folder remote keeps its folder (made absolute: DVC reads a
 * relative one from `.dvc/`), the default remote stays the default, and `cache.type`/`cache.shared`
 * carry over. Settings tdvc already has are left alone.
 */
export function planSettings(dvc: DvcConfig, dvcDir: string, has: (key: string) => boolean): SettingsPlan {
  const settings: MappedSetting[] = [];
  const skipped: string[] = [];
  const add = (key: string, value: string): void => {
    if (has(key)) skipped.push(`${key}: tdvc already has it set`);
    else settings.push({ key, value });
  };
  const mappedRemotes = new Set<string>();
  for (const [section, values] of dvc) {
    if (!section.startsWith('remote.')) continue;
    const name = section.slice('remote.'.length);
    const url = values.get('url');
    if (!url) continue;
    if (!REMOTE_NAME.test(name)) {
      skipped.push(`DVC remote ${JSON.stringify(name.slice(0, 40))}: not a tdvc remote name (letters, digits, - and _)`);
      continue;
    }
    if (has(`remote.${name}.url`)) {
      skipped.push(`DVC remote ${name}: tdvc has a remote of that name already`);
      continue;
    }
    if (/^s3:\/\//i.test(url)) {
      settings.push({ key: `remote.${name}.url`, value: url });
      for (const [k, v] of values) {
        if (k === 'url') continue;
        if (S3_OPTIONS[k]) settings.push({ key: `remote.${name}.${S3_OPTIONS[k]}`, value: v });
        else if (S3_SECRETS.has(k)) skipped.push(`DVC remote ${name}: ${k} is not copied (tdvc takes credentials from the AWS provider chain: AWS_PROFILE, the profile setting, an instance role)`);
        else skipped.push(`DVC remote ${name}: option ${k} has no tdvc equivalent`);
      }
      mappedRemotes.add(name);
      continue;
    }
    const dir = dvcLocalRemoteDir(url, dvcDir);
    if (dir === undefined) {
      skipped.push(`DVC remote ${name} (${url.split(':')[0]}): tdvc has no remote of that kind (folder and S3 only)`);
      continue;
    }
    settings.push({ key: `remote.${name}.url`, value: dir });
    mappedRemotes.add(name);
  }
  const def = dvc.get('core')?.get('remote');
  if (def !== undefined && mappedRemotes.has(def)) add('core.remote', def);
  const cache = dvc.get('cache');
  const type = cache?.get('type');
  if (type !== undefined) {
    const parts = type.split(',').map((s) => s.trim());
    if (parts.every((p) => (LINK_TYPES as readonly string[]).includes(p))) add('cache.type', parts.join(','));
    else skipped.push('cache.type: not a list of reflink, hardlink, symlink, copy');
  }
  const shared = cache?.get('shared');
  if (shared === 'group') add('cache.shared', 'group');
  const dir = cache?.get('dir');
  if (dir !== undefined) {
    skipped.push(`cache.dir ${JSON.stringify(dir.slice(0, 80))}: tdvc keeps its own cache (a shared one is set with 'tdvc cache dir PATH'); DVC's cache is left as it is`);
  }
  return { settings, skipped };
}
