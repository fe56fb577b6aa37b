#!/usr/bin/env node
// Builds an upshift plugin written in JavaScript into a WebAssembly component with componentize-js,
// against the contract's WIT worlds (`wit/`, contract 0.2.0).
//
//   node sdk/js/componentize.mjs [--world verifier-plugin] [--wit DIR] -o OUT.wasm APP.js
//
// The plugin's folder is copied to a temporary folder with `upshift-plugin.js` (the helper module)
// beside it, unless the folder holds its own copy, so `import ... from './upshift-plugin.js'` resolves
// wherever the plugin lives. The component is built without `fetch` (componentize-js's `http` and
// `fetch-event` features): an upshift plugin reaches nothing but what the host grants it.
// Needs `npm ci` in sdk/js (scripts/setup-services.sh runs it).

import { cp, mkdtemp, rm, writeFile, access } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const usage = 'usage: node sdk/js/componentize.mjs [--world verifier-plugin] [--wit DIR] -o OUT.wasm APP.js';

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      world: { type: 'string', short: 'w', default: 'verifier-plugin' },
      wit: { type: 'string', short: 'd', default: join(here, '..', '..', 'wit') },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  console.error(`componentize: ${e.message}\n${usage}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(usage);
  process.exit(0);
}
if (args.positionals.length !== 1 || !args.values.out) {
  console.error(`componentize: name one APP.js and the output with -o\n${usage}`);
  process.exit(2);
}

const app = resolve(args.positionals[0]);
const out = resolve(args.values.out);
try {
  await access(app);
} catch {
  console.error(`componentize: ${app} does not exist`);
  process.exit(2);
}

let componentize;
try {
  ({ componentize } = await import('@bytecodealliance/componentize-js'));
} catch (e) {
  console.error(`componentize: componentize-js is not installed: run \`npm ci\` in ${here} (${e.message})`);
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), 'upshift-js-'));
try {
  const source = join(work, 'plugin');
  await cp(dirname(app), source, { recursive: true, filter: (p) => !p.includes('node_modules') });
  const helper = join(source, 'upshift-plugin.js');
  try {
    await access(helper);
  } catch {
    await cp(join(here, 'upshift-plugin.js'), helper);
  }
  process.chdir(source);
  const started = Date.now();
  const { component } = await componentize({
    sourcePath: join(source, basename(app)),
    witPath: resolve(args.values.wit),
    worldName: args.values.world,
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(out, component);
  const mb = (component.length / 1e6).toFixed(1);
  console.error(`componentize: ${out} (${mb} MB, world ${args.values.world}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`componentize: ${e.message || e}`);
  process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
