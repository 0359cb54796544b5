// Resident memory of the service as `npm start` runs it (src/main.ts through tsx, LOG_LEVEL=warn,
// every integration on its local stand-in), read from /proc/<pid>/status of that node process:
// idle after the start, after a load, and its peak (VmHWM). Three starts: the embedded PGlite on
// a fresh data folder (the first start, which creates the database), the same folder again (every
// later start), and PostgreSQL when DATABASE_URL is given (a database of its own, dropped after).
// During each start the peaks of the process and its children are also summed: a child the service
// starts (the first start's initdb) is counted there, not in the service's own figures.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { PROJECT_ROOT } from './child.js';
import { adminDatabaseUrl, createBenchDatabase } from './database.js';
import { fmt, note, printTable } from './report.js';

const MAIN = join(PROJECT_ROOT, 'src/main.ts');
const MB = 1024;

export interface MemoryRun {
  label: string;
  /** Seconds from the spawn to the first answer of /healthz. */
  startSeconds: number;
  /** MB: the service process, idle a few seconds after its start. */
  idle: number;
  /** MB: the service process after the load, once it settled. */
  afterLoad: number;
  /** MB: VmHWM of the service process at the end. */
  peak: number;
  /** MB: during the start, the highest sum of VmHWM over the process and its children (sampled every 50 ms). */
  treePeakAtStart: number;
  loadRequests: number;
}

/** kB fields of /proc/<pid>/status, 0 once the process is gone. */
function status(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** The process and every descendant (children listed by the kernel per thread). */
function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    try {
      for (const task of readFileSync(`/proc/${all[i]}/task/${all[i]}/children`, 'utf8').trim().split(/\s+/)) {
        if (task) all.push(Number(task));
      }
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(
  label: string,
  env: Record<string, string>,
  load: { body: string; connections: number; seconds: number; idleSeconds: number },
): Promise<MemoryRun> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NODE_ENV: 'development', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  try {
    let treePeak = 0;
    let started = false;
    const deadline = Date.now() + 120_000;
    while (!started) {
      if (child.exitCode !== null) throw new Error(`${label}: the service exited during its start (${child.exitCode})`);
      if (Date.now() > deadline) throw new Error(`${label}: the service did not answer /healthz within 120 s`);
      // Each process's own peak so far, summed: an upper bound of the tree's peak that a 50 ms
      // sample cannot miss (the first start's child lives a few seconds).
      treePeak = Math.max(treePeak, tree(pid).reduce((s, p) => s + status(p).hwm, 0));
      started = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (!started) await sleep(50);
    }
    const startSeconds = (performance.now() - t0) / 1000;
    await sleep(load.idleSeconds * 1000);
    const idle = status(pid).rss;
    // The catalogue call of the throughput benchmark, and /readyz (a query) so the database works too.
    const r = await autocannon({
      url: base,
      connections: load.connections,
      duration: load.seconds,
      requests: [
        {
          method: 'POST',
          path: '/mcp/v2/messages',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: load.body,
        },
        { method: 'GET', path: '/readyz' },
      ],
    });
    if (r.non2xx + r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx answers and ${r.errors} errors under the load`);
    await sleep(2000);
    const end = status(pid);
    return {
      label,
      startSeconds,
      idle: idle / MB,
      afterLoad: end.rss / MB,
      peak: end.hwm / MB,
      treePeakAtStart: treePeak / MB,
      loadRequests: r.requests.total,
    };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Prints the memory table and returns the RESULT figures (MB). `body` is the tools/call the
 * throughput benchmark sends.
 */
export async function memorySection(opts: { body: string; connections?: number; seconds?: number; idleSeconds?: number }): Promise<Record<string, string>> {
  const load = { body: opts.body, connections: opts.connections ?? 16, seconds: opts.seconds ?? 10, idleSeconds: opts.idleSeconds ?? 5 };
  note(`\nmemory: the service started as \`npm start\` does (tsx src/main.ts), LOG_LEVEL=warn; load ${load.seconds} s, ${load.connections} connections`);
  note(`load average before: ${loadavg().map((l) => fmt(l)).join(' ')}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dotm-bench-memory-'));
  const runs: MemoryRun[] = [];
  try {
    runs.push(await measure('pglite, first start', { DATA_DIR: dataDir }, load));
    runs.push(await measure('pglite', { DATA_DIR: dataDir }, load));
    if (adminDatabaseUrl()) {
      const database = await createBenchDatabase({ poolSize: 1 });
      try {
        runs.push(await measure('postgresql', { DATABASE_URL: database.url! }, load));
      } finally {
        await database.drop();
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    // The local stand-ins keep their state next to the data folder (LOCAL_STATE_DIR).
    rmSync(`${dataDir}-local`, { recursive: true, force: true });
  }
  printTable(
    ['database', 'start s', 'idle MB', 'after load MB', 'peak MB', 'start, with children MB', 'load requests'],
    runs.map((r) => [r.label, fmt(r.startSeconds, 1), fmt(r.idle, 0), fmt(r.afterLoad, 0), fmt(r.peak, 0), fmt(r.treePeakAtStart, 0), r.loadRequests]),
  );
  note('idle, after load: VmRSS of the service process; peak: its VmHWM; "with children": the peaks (VmHWM) of the');
  note('service and of the processes it started, summed, sampled every 50 ms during the start (an upper bound; the');
  note('first start creates the embedded database in a short-lived process of its own)');
  if (!adminDatabaseUrl()) note('postgresql: not measured (run with DATABASE_URL)');
  note(`load average after: ${loadavg().map((l) => fmt(l)).join(' ')}`);

  const figures: Record<string, string> = {};
  const key = (r: MemoryRun) => (r.label === 'postgresql' ? 'pg' : r.label === 'pglite' ? 'pglite' : 'pglite_first');
  for (const r of runs) {
    if (key(r) !== 'pglite_first') {
      figures[`rss_idle_${key(r)}`] = `${fmt(r.idle, 0)}MB`;
      figures[`rss_load_${key(r)}`] = `${fmt(r.afterLoad, 0)}MB`;
    }
    figures[`rss_peak_${key(r)}`] = `${fmt(r.peak, 0)}MB`;
  }
  const first = runs.find((r) => key(r) === 'pglite_first');
  if (first) figures.rss_tree_peak_pglite_first = `${fmt(first.treePeakAtStart, 0)}MB`;
  return figures;
}
