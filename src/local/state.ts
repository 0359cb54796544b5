// Where the local stand-ins keep their state between starts, so the links they hand out (the hosted
// invoice page, the mailbox) and the ids the service stored (invoices, lines) still resolve after a
// restart. One folder per instance, held by a lock file; each file written whole to a temporary
// name and renamed over the old one, so a reader (the next start) sees the old or the new version,
// never half of one. Without a folder the stand-ins keep everything in memory, as tests want.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';

const LOCK_FILE = 'lock';
const TEMP_SUFFIX = '.tmp';

/** Folders held by this process: a second holder in the same process is refused like another process. */
const heldHere = new Set<string>();

export class StateFolderInUseError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `the local stand-ins' state folder ${dir} is in use by process ${pid}; give each instance its own LOCAL_STATE_DIR (and DATA_DIR), or stop the other one (if no such instance runs, delete ${join(dir, LOCK_FILE)})`,
    );
    this.name = 'StateFolderInUseError';
  }
}

export interface StateFolder {
  /** Absolute path. */
  readonly dir: string;
  /** A file or sub-folder of it. */
  path(name: string): string;
  /** Gives the folder up: the lock file is removed. */
  release(): void;
}

/**
 * Creates the folder if needed (readable by its owner only: it holds test e-mail and invoices)
 * and takes its lock. A lock left by a process that no longer runs is taken over.
 */
export function openStateFolder(dir: string, logger?: Logger): StateFolder {
  const absolute = resolve(dir);
  if (heldHere.has(absolute)) throw new StateFolderInUseError(absolute, process.pid);
  mkdirSync(absolute, { recursive: true, mode: 0o700 });
  const lock = join(absolute, LOCK_FILE);
  takeLock(lock, absolute, logger);
  heldHere.add(absolute);
  removeLeftoverTempFiles(absolute, logger);
  let released = false;
  return {
    dir: absolute,
    path: (name) => join(absolute, name),
    release() {
      if (released) return;
      released = true;
      heldHere.delete(absolute);
      try {
        if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
      } catch {
        // already gone
      }
    },
  };
}

function takeLock(lock: string, dir: string, logger?: Logger): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    // Our own pid in the file is a lock left by an earlier run of this process id (a restarted
    // container is pid 1 again); the in-process set says whether we hold it now.
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) throw new StateFolderInUseError(dir, holder);
    logger?.warn({ dir, holder: Number.isInteger(holder) ? holder : null }, 'local state folder: taking over the lock of a process that is gone');
    rmSync(lock, { force: true });
  }
  throw new Error(`could not take the lock of the local state folder ${dir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporary files of writes a crash interrupted; nobody else writes here while we hold the lock. */
function removeLeftoverTempFiles(dir: string, logger?: Logger): void {
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(TEMP_SUFFIX)) {
        rmSync(path, { force: true });
        logger?.debug({ path }, 'local state folder: removed an interrupted write');
      }
    }
  };
  walk(dir);
}

let tempCounter = 0;

/** Writes `data` to `path` whole: a temporary file, flushed to disk, renamed over the old one. */
export async function writeFileAtomically(path: string, data: string | Buffer): Promise<void> {
  const temp = `${path}.${process.pid}.${++tempCounter}.${randomBytes(3).toString('hex')}${TEMP_SUFFIX}`;
  try {
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(data);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/**
 * The state in `path`, validated: undefined when there is none yet. A file that cannot be read
 * as the schema says (cut short by a crash, edited by hand) is moved aside as `<name>.corrupt-<time>`
 * with a warning, and the stand-in starts empty rather than not at all.
 */
export function readStateFile<T>(path: string, schema: z.ZodType<T>, logger?: Logger): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let problem: string;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    problem = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`)
      .join('; ');
  } catch (err) {
    problem = (err as Error).message;
  }
  const aside = moveAside(path);
  logger?.warn({ path, movedTo: aside, problem }, 'local state file unreadable; starting empty');
  return undefined;
}

/** Renames a file that could not be read, so it is neither lost nor overwritten; returns the new path. */
export function moveAside(path: string): string | null {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
    return aside;
  } catch {
    return null;
  }
}

/**
 * Keeps one JSON file in step with a stand-in's state. `changed()` after every change; the state
 * is read (`snapshot`) and written once for all the changes made in the same turn of the event
 * loop, one write at a time. `flushed()` resolves once every change made before the call is on disk
 * (or its write failed, which is logged: a full disk slows nothing down, the next change tries again).
 */
export class SnapshotFile {
  private dirty = false;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly path: string,
    private readonly snapshot: () => unknown,
    private readonly logger?: Logger,
  ) {}

  changed(): void {
    this.dirty = true;
    this.writing ??= this.writeWhileDirty();
  }

  flushed(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private async writeWhileDirty(): Promise<void> {
    // Changes made by the rest of this turn (one API request's several steps) share the write.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.dirty) {
      this.dirty = false;
      try {
        await writeFileAtomically(this.path, JSON.stringify(this.snapshot()));
      } catch (err) {
        this.logger?.warn({ path: this.path, err: (err as Error).message }, 'local state: writing failed; the next change tries again');
        break;
      }
    }
    this.writing = null;
  }
}
