// Wraps a Database so that a benchmark can tell how many statements the service ran and how long
// it waited for them (inside transactions too), without touching the service's code.
import type { Database, Queryable } from '../../src/db/database.js';

export interface QueryStats {
  queries: number;
  transactions: number;
  /** Transactions plus writing statements run on their own (each one a commit of its own). */
  commits: number;
  /** Sum of the time each statement took, arrival of the call to its answer (overlapping calls add up). */
  ms: number;
}

export function timedDatabase(inner: Database): { db: Database; stats(): QueryStats } {
  const s: QueryStats = { queries: 0, transactions: 0, commits: 0, ms: 0 };
  const timed = (q: Queryable, own: boolean): Queryable['query'] =>
    async function query(sql, params) {
      if (own && /^\s*(INSERT|UPDATE|DELETE)\b/i.test(sql)) s.commits += 1;
      const t0 = performance.now();
      try {
        return await q.query(sql, params);
      } finally {
        s.queries += 1;
        s.ms += performance.now() - t0;
      }
    } as Queryable['query'];
  const db: Database = {
    ...inner,
    kind: inner.kind,
    query: timed(inner, true),
    exec: (sql) => inner.exec(sql),
    listen: (channel, onNotify) => inner.listen(channel, onNotify),
    withSessionLock: (key, fn) => inner.withSessionLock(key, fn),
    close: () => inner.close(),
    withTransaction(fn) {
      s.transactions += 1;
      s.commits += 1;
      return inner.withTransaction((tx) => fn({ query: timed(tx, false) }));
    },
  };
  return { db, stats: () => ({ ...s }) };
}
