// CommonJS on purpose: a bundler (esbuild, webpack) follows this plain `require` and packs
// blake3-wasm into the bundle (a Lambda package), where the createRequire'd `require` of an ES
// module hides it; Node still loads the WASM only when the function is called.
function loadBlake3Wasm(): unknown {
  return require('blake3-wasm');
}

export = { loadBlake3Wasm };
