// `--name=value` and `--flag` options after the benchmark names: `npm run bench -- mcp --duration=5`.
const given = process.argv.slice(2);

export function flag(name: string): boolean {
  return given.includes(`--${name}`);
}

export function numberOption(name: string, fallback: number): number {
  const raw = given.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
