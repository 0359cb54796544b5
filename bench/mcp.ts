// Issue 2: throughput of the MCP endpoint against a bare Express JSON-RPC echo, side by side.
// Each server runs in a process of its own and is loaded by autocannon from this process (64
// connections). Both are warmed up, then loaded in alternating rounds (echo, dotm, echo, dotm…),
// so that a change in the machine's background load touches both alike.
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { flag, numberOption } from './support/args.js';
import { PROJECT_ROOT, startChild, type Child } from './support/child.js';
import { summariseProfile } from './support/profile.js';
import { memorySection } from './support/memory.js';
import { exitSoon, fmt, heading, note, printTable, result } from './support/report.js';

const CONNECTIONS = numberOption('connections', 64);
const DURATION_S = numberOption('duration', 10);
const ROUNDS = numberOption('rounds', 2);
const WARMUP_S = numberOption('warmup', 5);
const PROFILE = flag('profile');
const GOAL_RATIO = 0.7;
/** Our p99 at most this many times the echo's in the same run (an absolute figure cannot hold on a loaded 2-core machine). */
const GOAL_P99_VS_ECHO = 1.5;

const TARGET = fileURLToPath(new URL('./mcp-target.ts', import.meta.url));
const PROFILE_DIR = join(tmpdir(), 'dotm-bench-profiles');
const PROFILE_FILE = join(PROFILE_DIR, 'mcp-dotm.cpuprofile');

const CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'calculate_pricing', arguments: { service_ids: ['beta_esim_activation', 'basic_membership'] } },
});

type Target = 'echo' | 'dotm';

interface Round {
  target: Target;
  seconds: number;
  requests: number;
  p50: number;
  p99: number;
  failures: number;
  serverCpu: number;
  loaderCpu: number;
  /** Server CPU microseconds over the run. */
  serverCpuUs: number;
}

/** One request before the load: the answer must be the real result, not an error path. */
async function check(target: Target, url: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: CALL });
  const body = (await res.json()) as { result?: { isError?: boolean; structuredContent?: { totals?: unknown }; echo?: unknown } };
  const ok =
    res.status === 200 &&
    (target === 'echo' ? body.result?.echo !== undefined : body.result?.structuredContent?.totals !== undefined && !body.result.isError);
  if (!ok) throw new Error(`${target} did not answer the tools/call as expected: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
}

function load(url: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: CALL,
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 10,
  });
}

async function round(target: Target, child: Child, seconds: number, profile: boolean): Promise<Round> {
  if (profile) await child.startProfile();
  const cpu0 = await child.cpuMicros();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await load(child.url, seconds);
  const wallUs = (performance.now() - t0) * 1000;
  const own = process.cpuUsage(own0);
  const cpu1 = await child.cpuMicros();
  if (profile) await child.stopProfile(PROFILE_FILE);
  return {
    target,
    seconds: r.duration,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    failures: r.non2xx + r.errors + r.timeouts,
    serverCpu: (cpu1 - cpu0) / wallUs,
    loaderCpu: (own.user + own.system) / wallUs,
    serverCpuUs: cpu1 - cpu0,
  };
}

/** All rounds of one server: requests over seconds; p50 the mean of the rounds', p99 the worst round's. */
function combine(rounds: Round[]) {
  const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
  const requests = rounds.reduce((s, r) => s + r.requests, 0);
  return {
    reqPerSec: requests / seconds,
    requests,
    p50: rounds.reduce((s, r) => s + r.p50, 0) / rounds.length,
    p99: Math.max(...rounds.map((r) => r.p99)),
    failures: rounds.reduce((s, r) => s + r.failures, 0),
    cpuPerRequest: rounds.reduce((s, r) => s + r.serverCpuUs, 0) / Math.max(1, requests),
    serverCpu: rounds.reduce((s, r) => s + r.serverCpu * r.seconds, 0) / seconds,
    loaderCpu: rounds.reduce((s, r) => s + r.loaderCpu * r.seconds, 0) / seconds,
  };
}

heading('mcp', 'tools/call calculate_pricing (JSON mode) vs a bare Express 5 JSON-RPC echo');
note(
  `autocannon: ${CONNECTIONS} connections; ${WARMUP_S} s warm-up, then ${ROUNDS} alternating rounds of ${fmt(DURATION_S / ROUNDS, 1)} s per server (${DURATION_S} s each in all)`,
);
note('the service runs with LOG_LEVEL=warn (request logs off); each server in a process of its own');
note(`load average before: ${loadavg().map((l) => fmt(l)).join(' ')} (the machine's other work shows up in both servers' figures)`);
if (PROFILE) {
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
}

const children: Partial<Record<Target, Child>> = {};
const rounds: Round[] = [];
try {
  children.echo = await startChild(TARGET, ['echo']);
  children.dotm = await startChild(TARGET, ['dotm']);
  for (const target of ['echo', 'dotm'] as const) {
    await check(target, children[target]!.url);
    await load(children[target]!.url, WARMUP_S);
  }
  const perRound = DURATION_S / ROUNDS;
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push(await round('echo', children.echo, perRound, false));
    rounds.push(await round('dotm', children.dotm, perRound, PROFILE && i === ROUNDS - 1));
  }
} finally {
  await Promise.all(Object.values(children).map((c) => c.stop()));
}

const label = (t: Target) => (t === 'echo' ? 'express echo' : 'dotm tools/call');
const echo = combine(rounds.filter((r) => r.target === 'echo'));
const ours = combine(rounds.filter((r) => r.target === 'dotm'));
printTable(
  ['round', 'server', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'failed', 'server CPU', 'CPU µs/req', 'autocannon CPU'],
  [
    ...rounds.map((r, i) => [
      String(Math.floor(i / 2) + 1),
      label(r.target),
      fmt(r.requests / r.seconds, 0),
      fmt(r.p50, 0),
      fmt(r.p99, 0),
      r.requests,
      r.failures,
      `${fmt(r.serverCpu * 100, 0)}%`,
      fmt(r.serverCpuUs / Math.max(1, r.requests), 0),
      `${fmt(r.loaderCpu * 100, 0)}%`,
    ]),
    ...([['echo', echo], ['dotm', ours]] as const).map(([t, m]) => [
      'all',
      label(t),
      fmt(m.reqPerSec, 0),
      fmt(m.p50, 0),
      fmt(m.p99, 0),
      m.requests,
      m.failures,
      `${fmt(m.serverCpu * 100, 0)}%`,
      fmt(m.cpuPerRequest, 0),
      `${fmt(m.loaderCpu * 100, 0)}%`,
    ]),
  ],
);
note('"all": requests ÷ seconds over the rounds; p50 the mean of the rounds\', p99 the worst round\'s');
note('server CPU: share of one core during the run; below ~95% the server was waiting for a core the machine\'s other work held');
note('CPU µs/req: the server\'s CPU time per request, the figure least disturbed by other work on the machine');
note(`load average after: ${loadavg().map((l) => fmt(l)).join(' ')}`);

if (PROFILE) summariseProfile(PROFILE_FILE, PROJECT_ROOT);
const memory = flag('no-memory') ? {} : await memorySection({ body: CALL });

const ratio = ours.reqPerSec / echo.reqPerSec;
const cpuRatio = echo.cpuPerRequest / ours.cpuPerRequest;
note(`CPU-time ratio (echo CPU per request ÷ ours): ${fmt(cpuRatio)}; the goal is judged on the throughput ratio`);
const pass = ratio >= GOAL_RATIO && ours.p99 <= GOAL_P99_VS_ECHO * echo.p99 && ours.failures === 0;
if (!pass && !PROFILE) note('goal missed: `npm run bench -- mcp --profile` shows where the service spends its time');
result(
  'mcp',
  {
    ours_rps: fmt(ours.reqPerSec, 0),
    echo_rps: fmt(echo.reqPerSec, 0),
    ours_p50: `${fmt(ours.p50, 0)}ms`,
    ours_p99: `${fmt(ours.p99, 0)}ms`,
    echo_p99: `${fmt(echo.p99, 0)}ms`,
    ours_cpu_per_req: `${fmt(ours.cpuPerRequest, 0)}us`,
    echo_cpu_per_req: `${fmt(echo.cpuPerRequest, 0)}us`,
    ...memory,
  },
  fmt(ratio),
  `>=${GOAL_RATIO},p99<=${GOAL_P99_VS_ECHO}x echo`,
  pass,
);
exitSoon();
