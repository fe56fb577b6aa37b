// A hostile verifier in JavaScript (tests/js_plugins.rs): the config's `attack` picks what it tries,
// each of which the host's sandbox must stop the same way it stops a Rust or a Python plugin:
//
// - `read-passwd`: fetch file:///etc/passwd (plugins are built without WASI HTTP: fetch traps);
// - `sql`: list and query a connection the spec never granted (the host answers `denied`);
// - `loop`: never return (the call's deadline ends it);
// - `alloc`: allocate far past the memory limit (the limit traps the allocation);
// - `log-flood`: emit 20,000 log records (the host keeps its per-call budget and drops the rest);
// - `none`: pass, so the same component is shown to work.

import { exportVerifier, Verdict, log, sql } from './upshift-plugin.js';

export const verifier = exportVerifier({
  config: { attack: { type: 'string', default: 'none', description: 'What to try' } },

  verify(check, config) {
    switch (config.attack) {
      case 'read-passwd': {
        const text = fetch('file:///etc/passwd');
        return Verdict.pass(`read /etc/passwd: ${String(text).slice(0, 200)}`);
      }
      case 'sql': {
        const found = [];
        for (const attempt of [() => sql.databases('shards'), () => sql.query('shards/shard-1', 'SELECT 1')]) {
          try {
            found.push(JSON.stringify(attempt()));
          } catch (e) {
            found.push(`${e.kind}: ${e.message}`);
          }
        }
        return Verdict.pass(found.join(' | '));
      }
      case 'loop': {
        let n = 0;
        for (;;) n++;
      }
      case 'alloc': {
        const hoard = [];
        for (;;) hoard.push(new Uint8Array(16 << 20).fill(1));
      }
      case 'log-flood': {
        for (let i = 0; i < 20_000; i++) log.info(`record ${i}`, { i });
        return Verdict.pass('flooded');
      }
      default:
        return Verdict.pass('no attack');
    }
  },
});
