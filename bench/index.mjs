// `pnpm bench [core|history|s3|scale|efs|read|import-dvc|all]`: one entry for every benchmark (pnpm builds first).
//   core     add / status / checkout / hashing against b3sum, cp and find (bench/run.mjs; the default)
//   history  diff / ls / checkout REV on a 100k-file history (bench/history.mjs)
//   s3       push / fetch against aws s3 and a bare SDK loop on a throwaway Ceph RGW (bench/s3.mjs)
//   scale    diff / merge / ls / gc / no-op push on synthetic trees of 100k, 1M and 10M files (bench/scale.mjs)
//            then add / status / checkout on real files (100k and 1M in folders, 200k in one folder) against b3sum, cp and find
//   efs      existence checks and no-op push on a high-latency filesystem remote (bench/efs.mjs), then
//            checkout and no-op status with the cache on a throwaway CephFS vs local disk (bench/cephfs-cache.mjs)
//   read     a dataset version read from a Git URL with no clone: open + one 1 MiB file vs git clone + tdvc pull,
//            2,000 files streamed 8 at a time vs aws s3 cp --recursive, on a throwaway RGW (bench/read.mjs)
//   import-dvc  tdvc import-dvc of a generated DVC repository (10,000 files, three versions) against cp -r (bench/import-dvc.mjs)
//   all      each of them in turn
// Each script's own header lists the environment variables that size it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPTS = { core: 'run.mjs', history: 'history.mjs', scale: 'scale.mjs', s3: 's3.mjs', efs: ['efs.mjs', 'cephfs-cache.mjs'], read: 'read.mjs', 'import-dvc': 'import-dvc.mjs' };
const asked = process.argv.slice(2).filter((a) => a !== '--');
const names = asked.length === 0 ? ['core'] : asked.includes('all') ? Object.keys(SCRIPTS) : asked;
for (const name of names) {
  if (!(name in SCRIPTS)) {
    console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(SCRIPTS).join(', ')}, all`);
    process.exit(2);
  }
}
for (const name of names) {
  console.log(`\n=== pnpm bench ${name} ===`);
  for (const script of [SCRIPTS[name]].flat()) {
    const r = spawnSync(process.execPath, [join(HERE, script)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
