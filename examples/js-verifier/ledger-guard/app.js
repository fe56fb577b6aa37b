// ledger-guard: a verifier in JavaScript. After each stage it compares the shards on the new
// version with those still on the old one: an upgraded shard whose ledger holds less money than the
// old shards (beyond `max_loss`) fails the stage. It is canary analysis on data: the baseline is the
// fleet that was not touched, measured at the same moment.
//
// The baseline is kept in the plugin's state, so the last stage, when no shard is left on the old
// version, is still compared with it.

import { exportVerifier, Verdict, PluginError, log, sql, state } from './upshift-plugin.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Entries and money of one database's ledger. */
function totals(database, table) {
  const row = sql.query(database, `SELECT COUNT(*) AS entries, COALESCE(SUM(amount_cents), 0) AS cents FROM ${table}`)[0];
  return { entries: row.entries, cents: row.cents };
}

function euros(cents) {
  return (cents / 100).toFixed(2);
}

export const verifier = exportVerifier({
  config: {
    connection: { type: 'string', description: 'The granted connection whose databases are the shards' },
    table: { type: 'string', default: 'ledger', description: 'The ledger table: one row per entry, with amount_cents' },
    max_loss: {
      type: 'number',
      default: 0,
      minimum: 0,
      maximum: 1,
      description: 'The share of the baseline\'s money an upgraded shard may lack (0: none)',
    },
  },

  checkConfig(config) {
    if (!IDENTIFIER.test(config.table)) {
      throw PluginError.invalidConfig(`table = ${JSON.stringify(config.table)}: give a plain table name (letters, digits, _)`);
    }
  },

  verify(check, config) {
    if (check.units.length === 0) return Verdict.inconclusive('no shard upgraded yet');
    const upgraded = new Set(check.units.map((unit) => `${config.connection}/${unit}`));
    const databases = sql.databases(config.connection);
    const old = databases.filter((db) => !upgraded.has(db));

    let baseline;
    if (old.length > 0) {
      const each = old.map((db) => totals(db, config.table));
      baseline = {
        entries: each.reduce((s, t) => s + t.entries, 0) / each.length,
        cents: each.reduce((s, t) => s + t.cents, 0) / each.length,
        from: `${old.length} ${old.length === 1 ? "shard" : "shards"} on ${check.fromVersion}`,
      };
      state.set('baseline', JSON.stringify(baseline));
    } else {
      const kept = state.get('baseline');
      if (kept === undefined) {
        return Verdict.inconclusive(`every shard is on ${check.toVersion} and no baseline was recorded before`);
      }
      baseline = JSON.parse(kept);
    }

    let worst = { ratio: Infinity };
    for (const db of upgraded) {
      const t = totals(db, config.table);
      const ratio = baseline.cents > 0 ? t.cents / baseline.cents : 1;
      if (ratio < worst.ratio) worst = { db, ratio, ...t };
    }
    log.info('ledgers compared', { upgraded: upgraded.size, baseline: baseline.from, worst: worst.db });

    const lost = 1 - worst.ratio;
    const name = worst.db.slice(config.connection.length + 1);
    const said = `${name} holds ${worst.entries} entries, ${euros(worst.cents)} EUR; the baseline (${baseline.from}) ${baseline.entries} entries, ${euros(baseline.cents)} EUR`;
    const verdict =
      lost > config.max_loss
        ? Verdict.fail(`${said}: ${(lost * 100).toFixed(1)} % of the money is missing, max_loss ${config.max_loss}`)
        : Verdict.pass(`${upgraded.size} upgraded shards keep the baseline's money (worst: ${said})`);
    return verdict
      .measure('kept_ratio', worst.ratio, 'ratio')
      .measure('baseline_cents', baseline.cents, 'cents')
      .measure('upgraded', upgraded.size, 'shards');
  },
});
