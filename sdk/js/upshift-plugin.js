// upshift plugins in JavaScript: the same shape as the Rust SDK (`upshift-sdk`) and the Python
// helper (`sdk/python/upshift_plugin.py`), for componentize-js.
//
// A verifier is an object with a plain `verify(check, config)` method; `exportVerifier` turns it
// into the exports of the contract's `verifier-plugin` world (`wit/`, contract 0.2.0). It parses
// the spec's JSON config against the fields you describe (an unknown field, a wrong type or a value
// out of range is an `invalid-config` error naming it, which `upshift validate` reports before
// anything changes), answers the host's `config-schema` and `validate-config` from the same
// description, and turns exceptions into the contract's typed errors:
//
//     import { exportVerifier, Verdict, PluginError, log, sql } from './upshift-plugin.js';
//
//     export const verifier = exportVerifier({
//       config: { max_errors: { type: 'integer', minimum: 0, default: 0, description: '...' } },
//       verify(check, config) {
//         return Verdict.fail('3 errors').measure('errors', 3, 'count');
//       },
//     });
//
// (`export const verifier` is the name componentize-js looks for: the world's exported interface.)
// Build with `node sdk/js/componentize.mjs --world verifier-plugin app.js -o x.wasm`
// (`examples/js-verifier/README.md` walks through it).
//
// Host services, wrapped: `log.info(message, fields)` (and debug, warn, error), `state.get/set/
// remove/keys` (the plugin's durable key-value state in this rollout), `clock.nowMillis()`, and
// `sql` (databases the spec grants: `sql.query(database, statement, params)` returns rows as
// objects). A plugin that needs SQL must declare it (`upshift plugin declare --sql`) and the spec
// must grant it; nothing else is reachable: JavaScript plugins are built without `fetch`.

import { emit } from 'upshift:plugin/log@0.2.0';
import { nowMillis } from 'upshift:plugin/clock@0.2.0';
import * as hostState from 'upshift:plugin/state@0.2.0';
import * as hostSql from 'upshift:plugin/sql@0.2.0';

const KINDS = ['invalid-config', 'unavailable', 'denied', 'conflict', 'internal'];

/** A typed failure: `kind` is one of the contract's error kinds; `retryable` says whether calling
 * again may help. */
export class PluginError extends Error {
  constructor(kind, message, retryable = false) {
    if (!KINDS.includes(kind)) {
      throw new TypeError(`unknown error kind '${kind}': use one of ${KINDS.join(', ')}`);
    }
    super(message);
    this.kind = kind;
    this.retryable = retryable;
  }
  static invalidConfig(message) { return new PluginError('invalid-config', message); }
  static unavailable(message) { return new PluginError('unavailable', message, true); }
  static denied(message) { return new PluginError('denied', message); }
  static conflict(message) { return new PluginError('conflict', message); }
  static internal(message) { return new PluginError('internal', message); }
}

/** The contract's `plugin-error` record for anything thrown. A bug in the plugin (any exception
 * that is not a PluginError) is an `internal` error naming it and where it was thrown. */
function toWitError(e) {
  if (e instanceof PluginError) {
    return { kind: e.kind, message: e.message, retryable: e.retryable };
  }
  if (e && typeof e === 'object' && KINDS.includes(e.kind) && typeof e.message === 'string') {
    // A host error passed on as it was (see `hostError`).
    return { kind: e.kind, message: e.message, retryable: Boolean(e.retryable) };
  }
  const name = (e && e.name) || typeof e;
  const message = e && e.message !== undefined ? e.message : String(e);
  const frame = e && typeof e.stack === 'string' ? e.stack.split('\n').find((l) => l.trim() !== '') : '';
  const at = frame ? ` at ${frame.trim().replace(/^[^@]*@/, '')}` : '';
  return { kind: 'internal', message: `${name}: ${message}${at}`, retryable: false };
}

/** Runs `f`, throwing the contract's error (which componentize-js returns as `err`) on failure. */
function call(f) {
  try {
    return f();
  } catch (e) {
    throw toWitError(e);
  }
}

/** A host call's failure (componentize-js throws an import's `err` with the record as `payload`)
 * as a PluginError, so `catch (e) { if (e.kind === 'denied') ... }` reads the same everywhere. */
function hostError(e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  if (p && KINDS.includes(p.kind)) return new PluginError(p.kind, p.message, p.retryable);
  return e;
}

function host(f) {
  try {
    return f();
  } catch (e) {
    throw hostError(e);
  }
}

/** A verifier's judgement: `Verdict.pass(reason)`, `.fail(reason)`, `.inconclusive(reason)`, each
 * taking measurements with `.measure(name, value, unit)`. */
export class Verdict {
  constructor(outcome, reason) {
    this.outcome = outcome;
    this.reason = String(reason);
    this.measurements = [];
  }
  static pass(reason) { return new Verdict('pass', reason); }
  static fail(reason) { return new Verdict('fail', reason); }
  /** Not enough signal to judge: never counts as a pass. */
  static inconclusive(reason) { return new Verdict('inconclusive', reason); }
  measure(name, value, unit) {
    this.measurements.push({ name: String(name), value: Number(value), unit: unit === undefined ? undefined : String(unit) });
    return this;
  }
}

// ---- config: parsed, defaulted and checked from a description of its fields ----

const TYPES = {
  string: (v) => typeof v === 'string',
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  array: (v) => Array.isArray(v),
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

/** The spec's config (JSON text) as an object: every field described in `fields` (`{type,
 * description, default, minimum, maximum}`; a field without a default is required), nothing else;
 * then `checkConfig(config)` if the plugin gives one. */
export function parseConfig(text, fields, checkConfig) {
  let raw;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw PluginError.invalidConfig(`the config is not JSON: ${e.message}`);
  }
  if (!TYPES.object(raw)) throw PluginError.invalidConfig('the config must be a table of fields');
  const known = Object.keys(fields);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw PluginError.invalidConfig(`unknown field '${key}': this plugin takes ${known.join(', ') || 'no fields'}`);
    }
  }
  const config = {};
  for (const [key, field] of Object.entries(fields)) {
    let value = raw[key];
    if (value === undefined) {
      if (field.default === undefined) throw PluginError.invalidConfig(`missing field '${key}': ${field.description || 'required'}`);
      value = field.default;
    }
    const ok = TYPES[field.type];
    if (!ok) throw PluginError.internal(`field '${key}' has an unknown type '${field.type}'`);
    if (!ok(value)) throw PluginError.invalidConfig(`${key} = ${JSON.stringify(value)}: give a ${field.type}`);
    if (field.minimum !== undefined && value < field.minimum) {
      throw PluginError.invalidConfig(`${key} = ${value}: give at least ${field.minimum}`);
    }
    if (field.maximum !== undefined && value > field.maximum) {
      throw PluginError.invalidConfig(`${key} = ${value}: give at most ${field.maximum}`);
    }
    config[key] = value;
  }
  if (checkConfig) checkConfig(config);
  return config;
}

/** A JSON Schema (draft 2020-12) of the described fields, as `config-schema` answers it. */
export function configSchema(fields) {
  const properties = {};
  const required = [];
  for (const [key, field] of Object.entries(fields)) {
    const p = { type: field.type };
    for (const k of ['description', 'default', 'minimum', 'maximum']) {
      if (field[k] !== undefined) p[k] = field[k];
    }
    properties[key] = p;
    if (field.default === undefined) required.push(key);
  }
  const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties, additionalProperties: false };
  if (required.length) schema.required = required;
  return JSON.stringify(schema);
}

// ---- the world's exports ----

function verdictOf(v) {
  if (!(v instanceof Verdict)) {
    throw PluginError.internal(`verify returned ${v === null ? 'null' : typeof v}: return a Verdict (Verdict.pass/fail/inconclusive)`);
  }
  return { outcome: v.outcome, reason: v.reason, measurements: v.measurements };
}

/** The `verifier` interface's exports for `plugin`: `{ config, checkConfig?, verify(check, config) }`.
 * `check` has the contract's fields in camelCase (`rolloutId`, `stageIndex`, `stageName`,
 * `fromVersion`, `toVersion`, `weight` (undefined without a split), `units`, `attempt`). */
export function exportVerifier(plugin) {
  const fields = plugin.config || {};
  if (typeof plugin.verify !== 'function') throw new TypeError('exportVerifier: the plugin needs a verify(check, config) method');
  return {
    verify(check, configText) {
      return call(() => verdictOf(plugin.verify(check, parseConfig(configText, fields, plugin.checkConfig))));
    },
    configSchema() {
      return configSchema(fields);
    },
    validateConfig(configText) {
      call(() => parseConfig(configText, fields, plugin.checkConfig));
    },
  };
}

// ---- host services ----

function record(level, message, fields) {
  const list = Object.entries(fields || {}).map(([key, value]) => ({ key, value: String(value) }));
  emit(level, String(message), list);
}

/** The host's log: each record goes to the host's log and the rollout's audit trail. */
export const log = {
  trace: (message, fields) => record('trace', message, fields),
  debug: (message, fields) => record('debug', message, fields),
  info: (message, fields) => record('info', message, fields),
  warn: (message, fields) => record('warn', message, fields),
  error: (message, fields) => record('error', message, fields),
};

/** The host's clock (a test may run rollouts on a simulated one). */
export const clock = {
  nowMillis: () => Number(nowMillis()),
};

/** This plugin's durable key-value state in this rollout (strings; the host bounds its size). */
export const state = {
  get: (key) => {
    const v = hostState.get(key);
    return v === undefined || v === null ? undefined : v;
  },
  set: (key, value) => host(() => hostState.set(key, String(value))),
  remove: (key) => hostState.remove(key),
  keys: () => hostState.keys(),
};

function toSqlValue(v) {
  if (v === null || v === undefined) return { tag: 'null' };
  if (typeof v === 'bigint') return { tag: 'integer', val: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { tag: 'integer', val: BigInt(v) } : { tag: 'real', val: v };
  if (typeof v === 'boolean') return { tag: 'integer', val: v ? 1n : 0n };
  if (v instanceof Uint8Array) return { tag: 'blob', val: v };
  return { tag: 'text', val: String(v) };
}

function fromSqlValue(v) {
  switch (v.tag) {
    case 'null': return null;
    case 'integer': {
      const n = Number(v.val);
      return Number.isSafeInteger(n) ? n : v.val;
    }
    default: return v.val;
  }
}

/** Databases the spec grants (`connection/database`). Errors are PluginErrors (`denied` for a
 * connection that was not granted). */
export const sql = {
  databases: (connection) => host(() => hostSql.databases(connection)),
  dialect: (database) => host(() => hostSql.dialectOf(database)),
  /** The rows of one query, each an object keyed by column name. */
  query: (database, statement, params = []) => {
    const result = host(() => hostSql.query(database, statement, params.map(toSqlValue)));
    return result.rows.map((row) => Object.fromEntries(row.map((v, i) => [result.columns[i], fromSqlValue(v)])));
  },
  /** The first column of the first row, or undefined when there is none. */
  scalar: (database, statement, params = []) => {
    const result = host(() => hostSql.query(database, statement, params.map(toSqlValue)));
    return result.rows.length && result.rows[0].length ? fromSqlValue(result.rows[0][0]) : undefined;
  },
  execute: (database, statement, params = []) => Number(host(() => hostSql.execute(database, statement, params.map(toSqlValue)))),
};
