// `npm run bench` runs every benchmark; `npm run bench -- mcp queue` runs those named. Options after
// the names go to each benchmark (e.g. `--profile` for mcp, `--users=50`); `--strict` makes a MISS
// fail the run. Each benchmark runs in a process of its own, one after the other; their RESULT
// lines are repeated together at the end.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = ['mcp', 'invoice', 'webhook', 'queue'] as const;
type Name = (typeof BENCHMARKS)[number];
const PER_BENCHMARK_LIMIT_MS = 5 * 60_000;

const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('--'));
const named = args.filter((a) => !a.startsWith('--'));
const unknown = named.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
if (unknown.length) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}\n`);
  process.exit(2);
}
const chosen: Name[] = named.length ? (named as Name[]) : [...BENCHMARKS];

function runOne(name: Name): Promise<{ code: number | null; results: string[] }> {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...options.filter((o) => o !== '--strict')], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const results: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    process.stdout.write(`${line}\n`);
    if (line.startsWith('RESULT ')) results.push(line);
  });
  const limit = setTimeout(() => {
    process.stderr.write(`${name}: still running after ${PER_BENCHMARK_LIMIT_MS / 1000} s; stopping it\n`);
    child.kill('SIGKILL');
  }, PER_BENCHMARK_LIMIT_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(limit);
      resolve({ code, results });
    }),
  );
}

const started = performance.now();
const summary: string[] = [];
let failed = false;
for (const name of chosen) {
  const { code, results } = await runOne(name);
  if (code !== 0 || results.length === 0) {
    failed = true;
    summary.push(`RESULT ${name}: did not finish (exit code ${code})`);
  } else summary.push(...results);
}
process.stdout.write(`\n== summary (${((performance.now() - started) / 1000).toFixed(0)} s, ${process.env.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : 'PGlite'})\n${summary.join('\n')}\n`);
const missed = summary.some((l) => l.endsWith(' MISS'));
process.exitCode = failed ? 1 : missed && options.includes('--strict') ? 1 : 0;
