/**
 * A throwaway single-node Ceph RGW for tests and benchmarks: one mon, one memstore OSD and one
 * radosgw, all files in one temp folder, on free ports of 127.0.0.1, with auth off inside the cluster
 * and an S3 user with known keys. `stop()` kills the daemons by pid and removes the folder.
 * Recipe and pitfalls: /work/shared/S3-TEST-SERVER.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runCommand, until } from '@tdvc/test-utils';

/** how often a start-up probe asks again */
const POLL_MS = 300;

export interface Rgw {
  endpoint: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  /** a key of the 'testing' KMS backend, usable with sse aws:kms */
  kmsKeyId: string;
  /** extra storage classes the zone knows besides STANDARD */
  storageClasses: string[];
  dir: string;
  /**
   * Frees the RAM of deleted objects now: RGW hands them to its garbage collector, which otherwise
   * waits hours, and memstore keeps every byte in memory until then.
   */
  reclaim(): Promise<void>;
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph-authtool', 'ceph'];

/** The binaries that are missing (empty when RGW can run here). */
export function missingRgwBinaries(): string[] {
  return BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' }).status !== 0);
}

/**
 * How test files decide: RGW present → run; absent → skip with a message, unless CI is set, where a
 * silently skipped S3 suite would hide a broken setup.
 */
export function rgwSkipReason(): string | undefined {
  const missing = missingRgwBinaries();
  if (missing.length === 0) return undefined;
  const msg = `Ceph RGW is not installed (missing ${missing.join(', ')}); install with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd`;
  if (process.env['CI']) throw new Error(`${msg} (CI is set, so the S3 tests may not be skipped)`);
  return msg;
}

/** The same rule for s3fs (the FUSE file system the POSIX-view test mounts the bucket with). */
export function s3fsSkipReason(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v s3fs'], { stdio: 'ignore' }).status === 0) return undefined;
  const msg = 's3fs is not installed; install with: apt-get install -y --no-install-recommends s3fs';
  if (process.env['CI']) throw new Error(`${msg} (CI is set, so the POSIX-view test may not be skipped)`);
  return msg;
}

export interface StartRgwOptions {
  /** bound for the whole start (default 120 s) */
  timeoutMs?: number;
  /** RAM for the memstore OSD (default 2 GiB) */
  memBytes?: number;
  storageClasses?: string[];
}

export async function startRgw(opts: StartRgwOptions = {}): Promise<Rgw> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-rgw-'));
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  // a test process that dies without calling stop() must not leave daemons behind
  const onExit = (): void => killAll();
  process.on('exit', onExit);

  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    killAll();
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const monPort = await freePort();
    let rgwPort = await freePort();
    while (rgwPort === monPort) rgwPort = await freePort();
    const fsid = randomUUID();
    const conf = join(dir, 'ceph.conf');
    const kmsKey = randomBytes(32).toString('base64');
    const storageClasses = opts.storageClasses ?? ['STANDARD_IA'];
    for (const d of ['run', 'log', 'mon/mon.a', 'osd/osd.0', 'rgw']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(
      conf,
      `[global]
fsid = ${fsid}
mon_host = 127.0.0.1:${monPort}
# every daemon binds and advertises loopback only (not the machine's other addresses)
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
mon_initial_members = a
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# with auth none the clients must also accept crc mode, or radosgw hangs in "get_initial_auth_request returned -13"
ms_mon_client_mode = crc secure
ms_client_mode = crc secure
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
osd_objectstore = memstore
memstore_device_bytes = ${opts.memBytes ?? 2 * 1024 * 1024 * 1024}
mon_data_avail_crit = 1
run_dir = ${dir}/run
log_file = ${dir}/log/$name.log
admin_socket = ${dir}/run/$name.asok
pid_file = ${dir}/run/$name.pid
keyring = ${dir}/keyring
mon_data = ${dir}/mon/$name
osd_data = ${dir}/osd/$name
rgw_data = ${dir}/rgw/$name
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw_crypt_require_ssl = false
rgw_gc_obj_min_wait = 0
rgw_crypt_s3_kms_backend = testing
rgw_crypt_s3_kms_encryption_keys = testkey-1=${kmsKey}
`,
    );
    const c = ['-c', conf];
    const left = (): number => Math.max(1000, deadline - Date.now());
    await runCommand('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], left());
    await runCommand('monmaptool', ['--create', '--add', 'a', `127.0.0.1:${monPort}`, '--fsid', fsid, join(dir, 'monmap')], left());
    await runCommand('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')], left());
    const daemon = (cmd: string, args: string[]): void => {
      // foreground (-f): the child is the daemon, so its pid is ours to kill
      const child = spawn(cmd, [...c, '-f', ...args], { stdio: 'ignore' });
      child.on('error', () => {});
      children.push(child);
    };
    daemon('ceph-mon', ['-i', 'a']);
    const ceph = (...args: string[]): Promise<string> => runCommand('ceph', [...c, '--connect-timeout', '10', ...args], Math.min(20_000, left()));
    const osdUuid = randomUUID();
    const osdId = (await until('the monitor', deadline, () => ceph('osd', 'new', osdUuid), POLL_MS)).trim();
    await runCommand('ceph-osd', [...c, '--mkfs', '-i', osdId, '--osd-uuid', osdUuid], left());
    daemon('ceph-osd', ['-i', osdId]);
    await until('the OSD to come up', deadline, async () => {
      const st = JSON.parse(await ceph('osd', 'stat', '-f', 'json')) as { num_up_osds?: number; osdmap?: { num_up_osds?: number } };
      return (st.num_up_osds ?? st.osdmap?.num_up_osds ?? 0) >= 1 ? true : undefined;
    }, POLL_MS);

    const admin = (...args: string[]): Promise<string> => runCommand('radosgw-admin', [...c, '-n', 'client.rgw', '--no-mon-config', ...args], left());
    const accessKey = `TDVC${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretKey = randomBytes(20).toString('hex');
    // also creates the default zone and zonegroup, which the placement commands need
    await admin('user', 'create', '--uid=tdvc', '--display-name=tdvc', `--access-key=${accessKey}`, `--secret-key=${secretKey}`);

    // storage classes must be in the zone before radosgw starts: it reads the zone once
    for (const sc of storageClasses) {
      await admin('zonegroup', 'placement', 'add', '--rgw-zonegroup', 'default', '--placement-id', 'default-placement', '--storage-class', sc);
      await admin('zone', 'placement', 'add', '--rgw-zone', 'default', '--placement-id', 'default-placement', '--storage-class', sc, '--data-pool', `default.rgw.${sc.toLowerCase().replace(/_/g, '-')}.data`);
    }
    daemon('radosgw', ['-n', 'client.rgw', '--no-mon-config']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw to answer', deadline, async () => {
      const res = await fetch(endpoint + '/');
      return res.ok ? true : undefined;
    }, POLL_MS);
    const reclaim = async (): Promise<void> => {
      await runCommand('radosgw-admin', [...c, '-n', 'client.rgw', '--no-mon-config', 'gc', 'process', '--include-all'], 300_000);
    };
    return { endpoint, port: rgwPort, accessKey, secretKey, region: 'us-east-1', kmsKeyId: 'testkey-1', storageClasses, dir, reclaim, stop };
  } catch (err) {
    let logs = '';
    for (const n of ['mon.a', 'osd.0', 'client.rgw']) {
      try {
        logs += `\n--- ${n}.log (tail) ---\n` + readFileSync(join(dir, 'log', `${n}.log`), 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        /* no log yet */
      }
    }
    await stop();
    throw new Error(`could not start Ceph RGW: ${(err as Error).message}${logs}`);
  }
}
