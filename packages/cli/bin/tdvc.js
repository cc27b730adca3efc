#!/usr/bin/env node
// More libuv threads than the default 4: file operations on network filesystems (EFS) spend their
// time waiting, not computing. Must be set before the first asynchronous fs call.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('../dist/src/main.js');
process.exitCode = await main(process.argv);
