// Figures and the printed output every benchmark shares: percentiles, a small table, the RESULT line.

/** The q-quantile (0..1) of the values, nearest rank. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

/** Prints rows as a left-aligned text table, the header underlined. */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): void {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(cells[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of cells.slice(1)) process.stdout.write(`${line(r)}\n`);
}

export function note(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function heading(name: string, what: string): void {
  process.stdout.write(`\n== ${name}: ${what}\n`);
}

/**
 * The last line of every benchmark, the one `bench/run.ts` collects:
 *   RESULT <name>: <figures> ratio=<x> goal=<…> PASS|MISS
 */
export function result(name: string, figures: Record<string, string>, ratio: string, goal: string, pass: boolean): void {
  const fig = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`RESULT ${name}: ${fig} ratio=${ratio} goal=${goal} ${pass ? 'PASS' : 'MISS'}\n`);
}

/** Runs `fn` with a deadline; a benchmark never waits forever on something that will not come. */
export async function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends the process shortly after the benchmark is done even if a library left a handle open
 * (keep-alive sockets, timers); the timer does not hold the process by itself.
 */
export function exitSoon(ms = 3000): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), ms).unref();
}
