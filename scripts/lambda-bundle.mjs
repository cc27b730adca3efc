#!/usr/bin/env node
// Builds an AWS Lambda deployment package from a handler that imports @tdvc/core, @tdvc/cli
// (openRemoteByUrl) or @tdvc/remote-s3: one ES module bundle, DIR/index.mjs, plus the BLAKE3 WASM
// file it loads at run time. The native BLAKE3 binding is left out (a .node file is built for one
// CPU and libc), so the package runs the same on x86_64 and arm64, hashing with WASM.
//
//   node scripts/lambda-bundle.mjs --entry HANDLER.mjs --out DIR [--minify] [--sourcemap] [--zip FILE]
//
// Bare @tdvc/* imports that do not resolve from the handler's folder (this repository's examples)
// are taken from this checkout's built packages: run `pnpm build` first.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const WORKSPACE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKSPACE_PACKAGES = new Set(['core', 'cli', 'remote-s3', 'remote-efs']);
// blake3-wasm's Node build reads this file with readFileSync(join(__dirname, NAME)); in the bundle
// __dirname is the bundle's folder (the banner below), so the file goes next to index.mjs
const WASM_NAME = 'blake3_js_bg.wasm';
const WASM_GLUE = /blake3-wasm[\\/]dist[\\/]wasm[\\/]nodejs[\\/]blake3_js\.js$/;
// CommonJS dependencies (the AWS SDK, blake3-wasm) call require and read __dirname/__filename,
// which an ES module does not have. esbuild keeps the name `require` free in its output (it renames
// a module's own), not the other two: a handler's `const __dirname = …` would clash with the
// banner's, so those reach the banner's values through `define`, which replaces only free uses
const BANNER = [
  "import { createRequire as __tdvcCreateRequire } from 'node:module';",
  "import { dirname as __tdvcPathDirname } from 'node:path';",
  "import { fileURLToPath as __tdvcFileURLToPath } from 'node:url';",
  'const require = __tdvcCreateRequire(import.meta.url);',
  'const __tdvcFilename = __tdvcFileURLToPath(import.meta.url);',
  'const __tdvcDirname = __tdvcPathDirname(__tdvcFilename);',
].join('\n');
const OWN_OUTPUTS = ['index.mjs', 'index.mjs.map', WASM_NAME];

function usage(message) {
  process.stderr.write(`error: ${message}\nusage: node scripts/lambda-bundle.mjs --entry HANDLER.mjs --out DIR [--minify] [--sourcemap] [--zip FILE]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      entry: { type: 'string' },
      out: { type: 'string' },
      minify: { type: 'boolean', default: false },
      sourcemap: { type: 'boolean', default: false },
      zip: { type: 'string' },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e.message);
}
if (!args.entry) usage('--entry HANDLER.mjs is required');
if (!args.out) usage('--out DIR is required');
const entry = resolve(args.entry);
const out = resolve(args.out);
if (!existsSync(entry)) usage(`${args.entry} does not exist`);
if (existsSync(out) && !statSync(out).isDirectory()) usage(`${args.out} exists and is not a folder`);
mkdirSync(out, { recursive: true });
for (const name of OWN_OUTPUTS) rmSync(join(out, name), { force: true });

/** @tdvc/X not installed next to the handler: this checkout's packages/X (its built dist). */
const workspaceFallback = {
  name: 'tdvc-workspace-fallback',
  setup(build) {
    build.onResolve({ filter: /^@tdvc\/[a-z0-9-]+$/ }, async (a) => {
      if (a.pluginData?.fallback) return undefined;
      const normal = await build.resolve(a.path, { kind: a.kind, importer: a.importer, resolveDir: a.resolveDir, pluginData: { fallback: true } });
      const name = a.path.slice('@tdvc/'.length);
      if (normal.errors.length === 0 || !WORKSPACE_PACKAGES.has(name)) return normal;
      const built = join(WORKSPACE, 'packages', name, 'dist', 'src', 'index.js');
      if (!existsSync(built)) return { errors: [{ text: `${a.path} is not installed and ${relative(process.cwd(), built)} is not built`, detail: 'run `pnpm build` (or install the package next to the handler)' }] };
      return { path: built };
    });
  },
};

let result;
try {
  result = await esbuild.build({
    entryPoints: [entry],
    outfile: join(out, 'index.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // a .node file would tie the package to one CPU; core falls back to WASM when this fails to load
    external: ['@napi-rs/blake-hash'],
    banner: { js: BANNER },
    define: { __dirname: '__tdvcDirname', __filename: '__tdvcFilename' },
    minify: args.minify,
    sourcemap: args.sourcemap,
    metafile: true,
    logLevel: 'warning',
    plugins: [workspaceFallback],
  });
} catch {
  process.exit(1); // esbuild printed the errors
}

const glue = Object.keys(result.metafile.inputs).find((p) => WASM_GLUE.test(p));
if (glue) copyFileSync(join(dirname(resolve(glue)), WASM_NAME), join(out, WASM_NAME));
else process.stderr.write(`note: the handler does not load blake3-wasm; no ${WASM_NAME} copied\n`);

const nodeFiles = readdirSync(out, { recursive: true }).filter((n) => String(n).endsWith('.node'));
if (nodeFiles.length > 0) {
  process.stderr.write(`error: ${out} holds native modules (${nodeFiles.join(', ')}), which tie the package to one CPU: remove them\n`);
  process.exit(1);
}

const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
let total = 0;
for (const name of readdirSync(out)) {
  const size = statSync(join(out, name)).size;
  total += size;
  process.stdout.write(`${join(args.out, name)}  ${mib(size)}\n`);
}
process.stdout.write(`total ${mib(total)}; handler: index.handler (runtime nodejs20.x or newer, x86_64 or arm64)\n`);

if (args.zip) {
  const zipFile = resolve(args.zip);
  rmSync(zipFile, { force: true });
  const z = spawnSync('zip', ['-qr', zipFile, '.'], { cwd: out, stdio: 'inherit' });
  if (z.error || z.status !== 0) {
    process.stderr.write(`error: zip failed${z.error ? ` (${z.error.message})` : ''}\nhint: install zip, or zip the folder yourself: cd ${args.out} && zip -r ../${basename(zipFile)} .\n`);
    process.exit(1);
  }
  process.stdout.write(`${args.zip}  ${mib(statSync(zipFile).size)}\n`);
}
