// Runs a benchmark target in a process of its own (TypeScript through tsx), so that the load
// generator and the server under load do not share one event loop. The child prints
// `READY <url>` once listening and stops cleanly when its standard input closes, reporting the CPU
// time it used as `CPU <user µs> <system µs>`; a child that does not stop in time is killed by pid.
// On request it records a CPU profile of a stretch of its life (the measured run, not the start).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  readonly url: string;
  readonly pid: number;
  /** CPU microseconds (user + system) the child reported so far. */
  cpuMicros(): Promise<number>;
  /** Starts the V8 CPU profiler in the child. */
  startProfile(): Promise<void>;
  /** Stops it and writes the .cpuprofile to `file`. */
  stopProfile(file: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startChild(file: string, args: string[], opts: { env?: Record<string, string>; readyMs?: number } = {}): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiters: Array<{ prefix: string; resolve: (rest: string) => void }> = [];
  lines.on('line', (line) => {
    const i = waiters.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(line);
    else process.stdout.write(`  [${args[0] ?? 'child'}] ${line}\n`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const next = (prefix: string, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file}: no "${prefix}" line within ${ms} ms`)), ms);
      waiters.push({
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest.slice(prefix.length));
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${file} exited before printing "${prefix}"`));
      });
    });

  let url: string;
  try {
    url = (await next('READY ', opts.readyMs ?? 60_000)).trim();
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  const parseCpu = (s: string) => s.trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0);
  return {
    url,
    pid: child.pid!,
    async cpuMicros() {
      const answer = next('CPU ', 5000);
      child.stdin!.write('cpu\n');
      return parseCpu(await answer);
    },
    async startProfile() {
      const answer = next('PROFILING', 10_000);
      child.stdin!.write('profile start\n');
      await answer;
    },
    async stopProfile(path) {
      const answer = next('PROFILED', 30_000);
      child.stdin!.write(`profile stop ${path}\n`);
      await answer;
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In the child: answers `cpu` requests and calls `stop` when the parent closes standard input. */
export function serveParent(url: string, stop: () => Promise<void>): void {
  process.stdout.write(`READY ${url}\n`);
  const input = createInterface({ input: process.stdin });
  let session: Session | undefined;
  const profile = async (command: string) => {
    if (command === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      process.stdout.write('PROFILING\n');
    } else if (command.startsWith('stop ') && session) {
      const { profile: data } = await session.post('Profiler.stop');
      writeFileSync(command.slice('stop '.length), JSON.stringify(data));
      session.disconnect();
      session = undefined;
      process.stdout.write('PROFILED\n');
    }
  };
  input.on('line', (line) => {
    const command = line.trim();
    if (command === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`CPU ${u.user} ${u.system}\n`);
    } else if (command.startsWith('profile ')) {
      profile(command.slice('profile '.length)).catch((err: unknown) => process.stderr.write(`profiling failed: ${String(err)}\n`));
    }
  });
  input.once('close', () => {
    void stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
