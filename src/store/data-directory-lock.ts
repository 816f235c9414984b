/**
 * One process at a time on an embedded (PGlite) data directory. PGlite keeps the database in the
 * memory of the process that opened it and writes its files back on its own schedule: a second
 * process on the same directory starts from a stale copy, and whatever either writes is lost or
 * corrupts the other. PostgreSQL guards its data directory with `postmaster.pid`; PGlite does not,
 * so the store does it here with a lock file beside the directory (`<directory>.lock`).
 *
 * Why not `proper-lockfile`: it judges a lock stale by its age (the holder touches it every few
 * seconds), so a holder whose event loop is blocked longer than that (PGlite runs every query
 * synchronously on the main thread; a large migration or a debugger pause does it) loses its
 * lock to a second process while it still has the database open; after a crash a restart waits
 * out the stale period; and the lock does not say who holds it. This lock names its holder (PID,
 * process start, host, command) and is stale exactly when that process is gone, which
 * `/proc/<pid>/stat` tells at once (its start time also tells a reused PID apart).
 */
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** What a lock file says about the process that holds it. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** When the holding process started (ISO 8601), for people reading the file. */
  started_at: string;
  /** The holder's command line, shortened. */
  command: string;
  /** Linux: the boot the holder started in (a reboot makes every old lock stale). */
  boot_id: string | null;
  /** Linux: the holder's start time in clock ticks since boot, which tells a reused PID apart. */
  start_ticks: string | null;
}

/** A lock that this process holds; `release()` removes it (also run at process exit). */
export interface DataDirectoryLock {
  /** The lock file. */
  readonly path: string;
  release(): void;
}

/** Options of {@link lockDataDirectory}. */
export interface LockOptions {
  /** Told when a stale lock (its process gone) is taken over. */
  onStaleLock?: (message: string, stale: LockHolder) => void;
}

/**
 * Thrown when another live process holds the directory (or may: a lock taken on another host).
 * The message names the holder, so an operator knows which process to stop.
 */
export class DataDirectoryLockedError extends Error {
  override name = 'DataDirectoryLockedError';

  constructor(
    readonly directory: string,
    readonly lockPath: string,
    readonly holder: LockHolder | null,
    detail: string,
  ) {
    super(detail);
  }
}

const COMMAND_MAX_LENGTH = 200;
/** Attempts before giving up; each waits a moment only while another process takes over a lock. */
const MAX_ATTEMPTS = 200;
const BUSY_WAIT_MS = 5;

/**
 * Takes the lock of `directory` or throws {@link DataDirectoryLockedError} at once, without
 * waiting. A lock left by a process that is gone (crashed, killed) is taken over and reported
 * through `onStaleLock`.
 */
export function lockDataDirectory(directory: string, options: LockOptions = {}): DataDirectoryLock {
  const target = resolve(directory);
  const path = `${target}.lock`;
  const content = `${JSON.stringify(currentHolder(), null, 2)}\n`;
  const draft = uniqueName(path, 'tmp');
  writeFileSync(draft, content, { flag: 'wx', mode: 0o644 });
  try {
    acquire(target, path, draft, options);
  } finally {
    removeQuietly(draft);
  }
  return heldLock(path, content);
}

/**
 * Links the finished draft into place, which is atomic and fails if a lock exists: the lock file
 * never exists without its content. A stale lock is replaced through {@link takeOver}.
 */
function acquire(directory: string, path: string, draft: string, options: LockOptions): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if (linked(draft, path)) return;
    const found = readLock(path);
    if (found === null) continue;
    const holder = parseHolder(found);
    if (holder === null) throw unreadableLock(directory, path);
    const state = holderState(holder);
    if (state !== 'gone') throw lockedBy(directory, path, holder, state);
    const outcome = takeOver(path, found, draft);
    if (outcome === 'taken') return options.onStaleLock?.(staleMessage(path, holder), holder);
    if (outcome === 'busy') pause(BUSY_WAIT_MS);
  }
  const detail = `Could not lock ${directory}: its lock file ${path} kept changing hands`;
  throw new DataDirectoryLockedError(directory, path, null, detail);
}

/**
 * Replaces the stale lock whose text is `stale` with the draft. There is no compare-and-delete
 * on a path, so two processes that found the same stale lock could each remove it and one could
 * remove the other's fresh lock. Instead, only the process holding the takeover right of that
 * very lock (a file named after its text, created exclusively) may replace it, and only while
 * the lock still holds that text. The right is a link to the draft, so it names its holder: a
 * right left by a process that crashed in those few microseconds is cleared by the next one.
 */
function takeOver(path: string, stale: string, draft: string): 'taken' | 'busy' | 'changed' {
  const right = takeoverRightPath(path, stale);
  if (!linked(draft, right)) {
    clearAbandonedRight(right);
    return 'busy';
  }
  try {
    if (readLock(path) !== stale) return 'changed';
    renameSync(draft, path);
    return 'taken';
  } finally {
    removeQuietly(right);
  }
}

/**
 * Where the takeover right of the lock at `path` whose text is `stale` lives. Exported so that a
 * test can leave one behind the way a process that crashed while taking over would.
 */
export function takeoverRightPath(path: string, stale: string): string {
  return `${path}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
}

/** Removes a takeover right whose holder is gone; set aside first, so one process removes it. */
function clearAbandonedRight(right: string): void {
  const text = readLock(right);
  const holder = text === null ? null : parseHolder(text);
  if (holder === null || holderState(holder) !== 'gone') return;
  const aside = uniqueName(right, 'abandoned');
  try {
    renameSync(right, aside);
  } catch {
    return;
  }
  if (readLock(aside) !== text) linked(aside, right);
  removeQuietly(aside);
}

function heldLock(path: string, content: string): DataDirectoryLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    if (readLock(path) === content) removeQuietly(path);
  };
  process.on('exit', release);
  return { path, release };
}

function uniqueName(path: string, suffix: string): string {
  return `${path}.${process.pid}-${randomBytes(4).toString('hex')}.${suffix}`;
}

function linked(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The lock file's text, or null when there is none. */
function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Blocks this thread for `ms` (the lock is taken synchronously, once, at start). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Parses a lock file; null when it is not one this module wrote. */
export function parseHolder(text: string): LockHolder | null {
  try {
    const holder = JSON.parse(text) as Partial<LockHolder>;
    const valid = Number.isInteger(holder.pid) && typeof holder.hostname === 'string';
    return valid && typeof holder.command === 'string' ? (holder as LockHolder) : null;
  } catch {
    return null;
  }
}

/** This process as a lock file describes it. */
export function currentHolder(): LockHolder {
  const startedAt = new Date(Date.now() - process.uptime() * 1_000).toISOString();
  return {
    pid: process.pid,
    hostname: hostname(),
    started_at: startedAt,
    command: [process.argv0, ...process.argv.slice(1)].join(' ').slice(0, COMMAND_MAX_LENGTH),
    boot_id: bootId(),
    start_ticks: procStat(process.pid)?.startTicks ?? null,
  };
}

/**
 * `alive`: the holder runs; `gone`: it does not (no such PID, a zombie, another process under
 * its PID, or a lock from before a reboot); `elsewhere`: it was taken on another host, where
 * this process cannot look.
 */
export function holderState(holder: LockHolder): 'alive' | 'gone' | 'elsewhere' {
  if (holder.hostname !== hostname()) return 'elsewhere';
  const boot = bootId();
  if (holder.boot_id !== null && boot !== null && holder.boot_id !== boot) return 'gone';
  const stat = procStat(holder.pid);
  if (stat === undefined) return signalProbe(holder.pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return 'gone';
  return holder.start_ticks !== null && holder.start_ticks !== stat.startTicks ? 'gone' : 'alive';
}

/** Without /proc (not Linux): signal 0 tells whether the PID exists (EPERM: another user's). */
function signalProbe(pid: number): 'alive' | 'gone' {
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'gone';
  }
}

/** `/proc/<pid>/stat`: undefined without procfs, null when there is no such process. */
function procStat(pid: number): { state: string; startTicks: string } | null | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    return procfsPresent() ? null : undefined;
  }
  // Field 2, the command name, is in parentheses and may hold spaces; fields 3 on follow it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTicks: fields[19] ?? '' };
}

function procfsPresent(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** One line naming the holder: PID, command, start and host. */
export function describeHolder(holder: LockHolder): string {
  const { pid, command, started_at: startedAt, hostname: host } = holder;
  return `PID ${pid} (${command}), started ${startedAt} on ${host}`;
}

function lockedBy(
  directory: string,
  path: string,
  holder: LockHolder,
  state: 'alive' | 'elsewhere',
): DataDirectoryLockedError {
  const own = holder.pid === process.pid && state === 'alive' ? ' (this very process)' : '';
  const detail =
    state === 'alive'
      ? `The embedded database in ${directory} is in use by ${describeHolder(holder)}${own}; ` +
        'one database can be open in one process only: stop that process first'
      : `The embedded database in ${directory} is locked by ${describeHolder(holder)} ` +
        `(another host); if no process there uses it any more, delete ${path}`;
  return new DataDirectoryLockedError(directory, path, holder, detail);
}

function unreadableLock(directory: string, path: string): DataDirectoryLockedError {
  const detail =
    `The embedded database in ${directory} has a lock file that is not one of ours ` +
    `(${path}); if no process uses the directory, delete it`;
  return new DataDirectoryLockedError(directory, path, null, detail);
}

function staleMessage(path: string, holder: LockHolder): string {
  return `took over the stale lock ${path} of ${describeHolder(holder)}: that process is gone`;
}
