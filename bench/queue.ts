// Issue 5: admission, queue position + ETA and the statistics must not grow with the queue. Two
// databases side by side, one with 10 queued activations and one with 100,000 (bulk SQL), each with
// the same 40 activations started in the last hour; the same operations on both, alternating:
//   admitNext (a transaction that is rolled back), standing(the last in the queue), stats().
import { loadavg } from 'node:os';
import { loadConfig } from '../src/config.js';
import { activationStore } from '../src/activation/activation-store.js';
import type { Activation } from '../src/activation/activation-store.js';
import type { Database, Queryable } from '../src/db/database.js';
import { sharedLocalFirebase } from '../src/local/firebase/server.js';
import { createService, type Service } from '../src/service.js';
import { numberOption } from './support/args.js';
import { createBenchDatabase, type BenchDatabase } from './support/database.js';
import { exitSoon, fmt, heading, note, percentile, printTable, result } from './support/report.js';

const SMALL = 10;
const LARGE = numberOption('queued', 100_000);
const ITERATIONS = numberOption('iterations', 200);
const BLOCKS = 4;
const WARMUP = 20;
const IN_WINDOW = 40;
const LIMIT = 100;
const GOAL_RATIO = 1.5;

interface Setup {
  queued: number;
  database: BenchDatabase;
  service: Service;
  last: Activation;
  head: number;
}

/**
 * IN_WINDOW users whose activations started in the last 50 minutes (queue numbers 1..IN_WINDOW,
 * admitted), then `queued` paid activations waiting (the next numbers), counters to match.
 */
async function fill(db: Database, queued: number): Promise<void> {
  const total = IN_WINDOW + queued;
  await db.query(
    `INSERT INTO users (firebase_uid, email, email_verified)
     SELECT 'bench_' || g, 'bench' || g || '@example.com', true FROM generate_series(1, $1::int) g`,
    [total],
  );
  await db.query(
    `INSERT INTO activations (user_id, plan_id, status, paid_at, queue_seq, started_at, activated_at, attempts)
     SELECT u.id, 'beta_esim_activation', 'active', now() - interval '55 minutes', s.seq,
            now() - make_interval(secs => 3000.0 * s.seq / $1), now() - make_interval(secs => 3000.0 * s.seq / $1), 1
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM users) s JOIN users u ON u.id = s.id
      WHERE s.seq <= $1`,
    [IN_WINDOW],
  );
  await db.query(
    `INSERT INTO activations (user_id, plan_id, status, paid_at, queue_seq)
     SELECT u.id, 'beta_esim_activation', 'queued', now() - interval '1 minute', s.seq
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM users) s JOIN users u ON u.id = s.id
      WHERE s.seq > $1`,
    [IN_WINDOW],
  );
  await db.query('UPDATE activation_queue_counters SET enqueued = $1, admitted = $2', [total, IN_WINDOW]);
  await db.exec('ANALYZE');
}

async function setUp(queued: number): Promise<Setup> {
  const database = await createBenchDatabase();
  await fill(database.db, queued);
  const config = loadConfig({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ACTIVATIONS_PER_HOUR: String(LIMIT) });
  const service = await createService(config, { db: database.db, skipMigrations: true, startWorkers: false });
  const { rows } = await database.db.query<{ id: number }>(`SELECT id FROM activations WHERE status = 'queued' ORDER BY queue_seq DESC LIMIT 1`);
  const last = (await activationStore.byId(database.db, rows[0]!.id))!;
  return { queued, database, service, last, head: IN_WINDOW + 1 };
}

class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back on purpose');
  }
}

/** admitNext's whole transaction (lock, window count, claim, counter), then rolled back. */
async function admitAndRollBack(db: Database): Promise<Activation | undefined> {
  const rollingBack = {
    async withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      try {
        await db.withTransaction(async (tx) => {
          throw new Rollback(await fn(tx));
        });
      } catch (err) {
        if (err instanceof Rollback) return err.value as T;
        throw err;
      }
      throw new Error('the transaction was expected to roll back');
    },
  };
  const { activation } = await activationStore.admitNext(rollingBack, LIMIT, 120);
  return activation;
}

interface Timings {
  admit: number[];
  standing: number[];
  stats: number[];
  iteration: number[];
}

async function iterate(s: Setup, n: number, into?: Timings): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const admitted = await admitAndRollBack(s.database.db);
    const t1 = performance.now();
    const standing = await s.service.activation.standing(s.last);
    const t2 = performance.now();
    const stats = await s.service.activation.stats();
    const t3 = performance.now();
    if (admitted?.queue_seq !== s.head) throw new Error(`admission took queue number ${admitted?.queue_seq}, expected ${s.head}`);
    if (standing.position !== s.queued) throw new Error(`the last in a queue of ${s.queued} stands at ${standing.position}`);
    if (stats.queue_length !== s.queued || stats.current_hour_activations !== IN_WINDOW) throw new Error(`unexpected stats ${JSON.stringify(stats)}`);
    into?.admit.push(t1 - t0);
    into?.standing.push(t2 - t1);
    into?.stats.push(t3 - t2);
    into?.iteration.push(t3 - t0);
  }
}

heading('queue', `admission + position/ETA + stats with ${SMALL} vs ${LARGE.toLocaleString('en')} queued activations`);
const setups: Setup[] = [];
try {
  const t0 = performance.now();
  setups.push(await setUp(SMALL));
  setups.push(await setUp(LARGE));
  note(`database: ${setups[1]!.database.label.replace(/_[0-9a-f]{8}$/, '_…')} (one per queue size); filled and ANALYZEd in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  note(`${IN_WINDOW} activations started in the last hour in both; limit ${LIMIT}/h; ${ITERATIONS} iterations per size in ${BLOCKS} alternating blocks`);
  note(`load average ${loadavg().map((l) => fmt(l)).join(' ')}`);
  const timings = setups.map((): Timings => ({ admit: [], standing: [], stats: [], iteration: [] }));
  for (const s of setups) await iterate(s, WARMUP);
  for (let b = 0; b < BLOCKS; b++) {
    for (const [i, s] of setups.entries()) await iterate(s, Math.ceil(ITERATIONS / BLOCKS), timings[i]);
  }
  // Nothing was admitted for real: the head of each queue is still queued, the counters unchanged.
  for (const s of setups) {
    const { rows } = await s.database.db.query<{ admitted: number }>('SELECT admitted FROM activation_queue_counters');
    if (rows[0]!.admitted !== IN_WINDOW) throw new Error('an admission was not rolled back');
  }

  const cell = (v: number[]) => `${fmt(percentile(v, 0.5), 3)} / ${fmt(percentile(v, 0.95), 3)}`;
  printTable(
    ['queued', 'admitNext (rolled back)', 'standing(last)', 'stats()', 'iteration'],
    setups.map((s, i) => [s.queued.toLocaleString('en'), cell(timings[i]!.admit), cell(timings[i]!.standing), cell(timings[i]!.stats), cell(timings[i]!.iteration)]),
  );
  note('ms, p50 / p95 of each operation; ratio = p50 iteration at the large queue ÷ p50 at the small one');
  const [small, large] = timings.map((t) => percentile(t.iteration, 0.5)) as [number, number];
  const ratio = large / small;
  result(
    'queue',
    { db: setups[0]!.database.db.kind, [`p50_at_${SMALL}`]: `${fmt(small, 3)}ms`, [`p50_at_${LARGE}`]: `${fmt(large, 3)}ms` },
    fmt(ratio),
    `<=${GOAL_RATIO}`,
    ratio <= GOAL_RATIO,
  );
} finally {
  for (const s of setups) {
    await s.service.shutdown();
    await s.database.drop();
  }
  await (await sharedLocalFirebase()).close();
  exitSoon();
}
