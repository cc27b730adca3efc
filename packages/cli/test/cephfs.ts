/**
 * A throwaway single-node CephFS for tests: one mon, one memstore OSD and one MDS, auth off, every
 * file in one temp folder, and the same file system mounted twice with ceph-fuse (two client names,
 * two mount points): two "machines" sharing one distributed POSIX file system, the closest thing to
 * EFS that runs here. Needs root, /dev/fuse and the Ceph packages; otherwise `startCephFs` returns
 * `{ skipped }` saying what is missing. `stop()` unmounts both, kills the daemons by pid and
 * removes the folder. Recipe and pitfalls: /work/shared/CEPHFS-TEST-FS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Hopeless, runCommand, sleep, until } from '@tdvc/test-utils';

export interface CephFs {
  /** the file system as client.fuse1 sees it */
  mountA: string;
  /** the same file system as client.fuse2 sees it */
  mountB: string;
  /** the temp folder holding the cluster (config, logs, daemons' data, both mount points) */
  dir: string;
  monPort: number;
  /** how long the start took, in ms */
  startupMs: number;
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'ceph-mds', 'ceph-fuse', 'ceph', 'monmaptool', 'ceph-authtool', 'umount', 'bash'];

/** Why CephFS cannot run here, or undefined when it can. */
export function cephFsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'CephFS test file system: needs Linux';
  if (process.getuid?.() !== 0) return 'CephFS test file system: needs root (it starts Ceph daemons and mounts FUSE)';
  try {
    // opening the device without mounting is harmless and proves FUSE is usable in this container
    closeSync(openSync('/dev/fuse', 'r+'));
  } catch (err) {
    return `CephFS test file system: /dev/fuse is not usable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    return `CephFS test file system: missing ${missing.join(', ')}; install with: apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mds ceph-fuse (or bash scripts/install-deps.sh --test)`;
  }
  return undefined;
}

/** Mount points currently mounted (from this process's mount table), with their fs type. */
function mounted(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    // mountinfo escapes space, tab, newline and backslash as octal
    if (f.length > 5 && sep > 0) out.set(f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), f[sep + 1]!);
  }
  return out;
}

/*
 * Daemons get /dev/null as stdin, a log file as stdout/stderr (never the test runner's pipes, or
 * the runner would wait for them), and every other inherited descriptor closed: a daemon that
 * kept, say, a lock file's descriptor of the test process open would keep that lock alive.
 * Node opens its own files close-on-exec, but descriptors the test process inherited may not be.
 */
const CLOSE_FDS_AND_EXEC = 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$@"';

export interface StartCephFsOptions {
  /** bound for the whole start (default 60 s) */
  timeoutMs?: number;
  /** RAM for the memstore OSD (default 1 GiB) */
  memBytes?: number;
}

export async function startCephFs(opts: StartCephFsOptions = {}): Promise<CephFs | { skipped: string }> {
  const skipped = cephFsSkipReason();
  if (skipped) return { skipped };
  // a one-node cluster on a shared two-core machine now and then loses a daemon while it starts
  // (seen in CI twice in a row, the MDS left in up:creating): fresh tries before giving up; a try
  // whose daemon died fails at once, so only a hang costs the whole bound
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt === 3) throw err;
      // the whole message (the dead daemon's output first): the only trace of a failure that passes
      console.log(`# CephFS did not start (try ${attempt} of 3), trying again: ${(err as Error).message.split('\n').slice(0, 40).join('\n# ')}`);
    }
  }
}

async function startOnce(opts: StartCephFsOptions): Promise<CephFs> {
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-cephfs-'));
  const mountA = join(dir, 'mnt', 'a');
  const mountB = join(dir, 'mnt', 'b');
  const daemons: ChildProcess[] = [];
  const fuses: ChildProcess[] = [];
  /** log name of each child, so a failure can say which daemon went and how */
  const names = new Map<ChildProcess, string>();
  const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;
  const gone = (cs: ChildProcess[]): string | undefined => {
    const dead = cs.filter((x) => !alive(x));
    if (dead.length === 0) return undefined;
    return dead.map((x) => `${names.get(x) ?? 'a daemon'} exited (${x.signalCode ? `signal ${x.signalCode}` : `status ${x.exitCode}`})`).join(', ');
  };
  const kill = (c: ChildProcess): void => {
    if (c.pid && alive(c)) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  const exited = (c: ChildProcess, ms: number): Promise<boolean> =>
    !alive(c) ? Promise.resolve(true) : new Promise((r) => {
      const timer = setTimeout(() => r(false), ms);
      c.once('exit', () => {
        clearTimeout(timer);
        r(true);
      });
    });

  // a test process that dies without calling stop() must leave neither daemons nor mounts behind
  const onExit = (): void => {
    for (const m of [mountA, mountB]) if (mounted().has(m)) spawnSync('umount', ['-l', m], { stdio: 'ignore', timeout: 5000 });
    for (const c of [...fuses, ...daemons]) kill(c);
    if (![...mounted().keys()].some((m) => m.startsWith(dir + '/'))) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    for (const m of [mountA, mountB]) {
      if (!mounted().has(m)) continue;
      // a plain umount makes ceph-fuse flush and exit; busy (a process still inside) → detach lazily
      for (let i = 0; i < 10 && mounted().has(m); i++) {
        if (spawnSync('umount', [m], { stdio: 'ignore', timeout: 10_000 }).status === 0) break;
        await sleep(100);
      }
      if (mounted().has(m)) spawnSync('umount', ['-l', m], { stdio: 'ignore', timeout: 10_000 });
    }
    for (const c of fuses) if (!(await exited(c, 5000))) kill(c);
    // memstore keeps nothing worth a clean shutdown
    for (const c of daemons) kill(c);
    await Promise.all([...fuses, ...daemons].map((c) => exited(c, 10_000)));
    // never recurse into a mount that is still there: it would delete through it or fail on ENOTCONN
    const left = [...mounted().keys()].filter((m) => m.startsWith(dir + '/'));
    if (left.length > 0) throw new Error(`CephFS: still mounted after stop, left ${dir} in place: ${left.join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
  };

  const conf = join(dir, 'ceph.conf');
  const c = ['-c', conf];
  const left = (): number => Math.max(1000, deadline - Date.now());
  const spawnLogged = (cmd: string, args: string[], logName: string): ChildProcess => {
    const log = openSync(join(dir, 'log', `${logName}.out`), 'a');
    try {
      // foreground (-f): the child is the daemon, so its pid is ours to kill
      const child = spawn('bash', ['-c', CLOSE_FDS_AND_EXEC, 'bash', cmd, ...c, '-f', ...args], { stdio: ['ignore', log, log] });
      child.on('error', () => {});
      names.set(child, logName);
      return child;
    } finally {
      closeSync(log);
    }
  };
  const ceph = (...args: string[]): Promise<string> => runCommand('ceph', [...c, '--connect-timeout', '10', ...args], Math.min(20_000, left()));

  try {
    for (const d of ['run', 'log', 'mon/mon.a', 'mds/mds.a', 'mnt/a', 'mnt/b']) mkdirSync(join(dir, d), { recursive: true });
    // mkdtemp makes the folder 0700: other users (the team tests') must reach the mount points
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'mnt'), 0o755);
    const fsid = randomUUID();
    // The mon port comes from the kernel's ephemeral range (as in rgw.ts), so it cannot be the port
    // of another cluster's mon that is running (the S3 tests' RGW) nor one in 6800–7300, where every
    // cluster's OSDs and MDS bind. Should another process take it between our probe and the mon's
    // bind, the mon exits and we try another.
    let monPort = 0;
    for (let attempt = 1; ; attempt++) {
      monPort = await freePort();
      writeFileSync(conf, cephConf({ dir, fsid, monPort, memBytes: opts.memBytes ?? 1024 * 1024 * 1024 }));
      rmSync(join(dir, 'mon', 'mon.a'), { recursive: true, force: true });
      mkdirSync(join(dir, 'mon', 'mon.a'));
      await runCommand('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], left());
      await runCommand('monmaptool', ['--create', '--clobber', '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')], left());
      await runCommand('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')], left());
      const mon = spawnLogged('ceph-mon', ['-i', 'a'], 'mon.a');
      daemons.push(mon);
      // our mon answering with our fsid, not merely something on that port
      const ok = await until('the monitor', deadline, async () => {
        if (!alive(mon)) return false;
        return (await ceph('fsid')).trim() === fsid ? true : undefined;
      });
      if (ok) break;
      if (attempt === 3) throw new Error(`the monitor exited three times (port clash?), last on port ${monPort}`);
    }

    // the MDS can start now: it waits as a standby until the file system exists
    daemons.push(spawnLogged('ceph-mds', ['-i', 'a'], 'mds.a'));
    const osdUuid = randomUUID();
    const osdId = (await ceph('osd', 'new', osdUuid)).trim();
    mkdirSync(join(dir, 'osd', `osd.${osdId}`), { recursive: true });
    await runCommand('ceph-osd', [...c, '--mkfs', '-i', osdId, '--osd-uuid', osdUuid], left());
    daemons.push(spawnLogged('ceph-osd', ['-i', osdId], `osd.${osdId}`));
    // pool size 1 and pg_num 8 come from the osd_pool_default_* settings
    await ceph('osd', 'pool', 'create', 'cephfs_metadata', '8', '8');
    await ceph('osd', 'pool', 'create', 'cephfs_data', '8', '8');
    await ceph('fs', 'new', 'cephfs', 'cephfs_metadata', 'cephfs_data');
    await until('the MDS to become up:active', deadline, async () => {
      const dead = gone(daemons);
      if (dead) throw new Hopeless(dead);
      return /up:active/.test(await ceph('mds', 'stat')) ? true : undefined;
    }, 300);

    for (const [name, mnt] of [['client.fuse1', mountA], ['client.fuse2', mountB]] as const) {
      fuses.push(spawnLogged('ceph-fuse', ['-n', name, mnt], name));
    }
    await until('both ceph-fuse mounts', deadline, async () => {
      const dead = gone([...daemons, ...fuses]);
      if (dead) throw new Hopeless(dead);
      const m = mounted();
      return m.get(mountA)?.startsWith('fuse') && m.get(mountB)?.startsWith('fuse') ? true : undefined;
    }, 100);
    // the same file system behind both: what one mount writes, the other sees
    const probe = `.probe-${randomUUID()}`;
    writeFileSync(join(mountA, probe), fsid);
    await until('mount B to see what mount A wrote', deadline, async () => (readFileSync(join(mountB, probe), 'utf8') === fsid ? true : undefined), 100);
    rmSync(join(mountB, probe));

    return { mountA, mountB, dir, monPort, startupMs: Date.now() - t0, stop };
  } catch (err) {
    let logs = '';
    // a dead daemon's own output first (CI shows only the start of a long message)
    const dead = [...daemons, ...fuses].filter((x) => !alive(x)).map((x) => names.get(x)!);
    const order = [...new Set([...dead, 'mon.a', 'osd.0', 'mds.a', 'client.fuse1', 'client.fuse2'])];
    for (const n of order) {
      for (const f of [`${n}.out`, `${n}.log`]) {
        try {
          const tail = readFileSync(join(dir, 'log', f), 'utf8').trimEnd().split('\n').slice(-12).join('\n');
          if (tail) logs += `\n--- ${f} (tail) ---\n${tail}`;
        } catch {
          /* no log yet */
        }
      }
    }
    try {
      await stop();
    } catch (stopErr) {
      logs += `\n(cleanup: ${(stopErr as Error).message})`;
    }
    throw new Error(`could not start CephFS: ${(err as Error).message}${logs}`);
  }
}

function cephConf(o: { dir: string; fsid: string; monPort: number; memBytes: number }): string {
  const { dir } = o;
  return `[global]
fsid = ${o.fsid}
mon_host = v1:127.0.0.1:${o.monPort}
mon_initial_members = a
# every daemon binds and advertises loopback only (not the machine's other addresses)
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc secure
ms_client_mode = crc secure
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_objectstore = memstore
memstore_device_bytes = ${o.memBytes}
mon_data_avail_crit = 1
run_dir = ${dir}/run
log_file = ${dir}/log/$name.log
admin_socket = ${dir}/run/$name.asok
pid_file = ${dir}/run/$name.pid
keyring = ${dir}/keyring
mon_data = ${dir}/mon/$name
osd_data = ${dir}/osd/$name
mds_data = ${dir}/mds/$name
# With the default 5 s, a stat or read through one mount of a file the other mount just created
# waits for the MDS tick: 2,000 files took 12 minutes to check out through the second mount.
mds_tick_interval = 0.02
mds_scatter_nudge_interval = 0.02
[client]
fuse_allow_other = true
fuse_set_user_groups = true
client_permissions = true
client_mount_timeout = 30
`;
}
