/**
 * What every benchmark suite gets from the orchestrator: the run's mode, database and process
 * starters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config.js';
import { onEmergencyExit } from '../../test/support/process.js';
import { type Child, readyPort, spawnChild, tsxScript } from './child.js';
import type { BenchDatabase } from './postgres.js';
import type { BenchmarkResult } from './results.js';

export interface ScriptOptions {
  env?: Record<string, string>;
  nodeFlags?: string[];
  ipc?: boolean;
  args?: string[];
  /** Open-file soft limit for the child (see spawnChild). */
  fileLimit?: number;
  /** How long the child may take to print its ready line (default 60 s). */
  readyTimeoutMs?: number;
}

export interface BenchContext {
  quick: boolean;
  db: BenchDatabase;
  /** Ids of the seeded projects. */
  projectIds: string[];
  /**
   * Headers every request to the service carries: `authorization: Bearer <key>` when the service
   * authenticates (the admin key it creates and logs on its first start), none otherwise. The same
   * headers go to the baselines, which ignore them, so both sides parse the same request.
   */
  headers: Record<string, string>;
  log(message: string): void;
  /** Starts the service (bench/serve-app.ts) in a child process on the run's database. */
  startService(
    env?: Record<string, string>,
    options?: Pick<ScriptOptions, 'nodeFlags' | 'fileLimit'>,
  ): Promise<Child>;
  /** Starts a bench/*.ts script (a baseline server, a client) in a child process. */
  startScript(name: string, script: string, options?: ScriptOptions): Promise<Child>;
}

/** One benchmark: measures, and returns its result (the orchestrator writes it). */
export type Suite = (
  context: BenchContext,
) => Promise<Omit<BenchmarkResult, 'machine' | 'mode' | 'durationSec' | 'pass'>>;

/**
 * The environment of a child: ours without any of the service's own settings (those are set
 * explicitly).
 */
function cleanEnvironment(): Record<string, string> {
  const serviceKeys = new Set(Object.keys(configSchema.shape));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !serviceKeys.has(key) && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return env;
}

export function createContext(options: {
  quick: boolean;
  db: BenchDatabase;
  log: (message: string) => void;
}): BenchContext & { dispose(): void } {
  // DATA_DIR of the service (unused with PostgreSQL, but it must not point into the repository).
  const dataDir = mkdtempSync(join(tmpdir(), 'swarm-bench-data-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  const unregister = onEmergencyExit(removeDataDir); // also on Ctrl-C and the watchdog
  const base = cleanEnvironment();
  // Diagnostics: BENCH_CPU_PROF_DIR=<dir> writes a V8 CPU profile of every child to <dir>/<name>/
  // (on exit).
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const startScript: BenchContext['startScript'] = (name, script, scriptOptions = {}) => {
    const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [];
    const { command, args } = tsxScript(script, [...profiling, ...(scriptOptions.nodeFlags ?? [])]);
    return spawnChild({
      name,
      command,
      args: [...args, ...(scriptOptions.args ?? [])],
      env: { ...base, ...scriptOptions.env },
      ipc: scriptOptions.ipc ?? false,
      ...(scriptOptions.fileLimit === undefined ? {} : { fileLimit: scriptOptions.fileLimit }),
      ...(scriptOptions.readyTimeoutMs === undefined
        ? {}
        : { readyTimeoutMs: scriptOptions.readyTimeoutMs }),
    });
  };
  return {
    ...options,
    projectIds: [],
    headers: {},
    startScript,
    async startService(env = {}, serviceOptions = {}) {
      const child = await startScript('service', 'serve-app.ts', {
        ...serviceOptions,
        env: {
          DATABASE_URL: options.db.url,
          LOG_LEVEL: 'warn',
          MEMORY_MCP: 'off',
          HOST: '127.0.0.1',
          PORT: '0',
          DATA_DIR: dataDir,
          WS_HEARTBEAT_MS: '600000',
          // The limiter stays in the request path (its cost is measured) but never refuses a
          // benchmark request.
          RATE_LIMIT_MAX: '10000000',
          ...env,
        },
      });
      readyPort(child);
      return child;
    },
    dispose: () => {
      unregister();
      removeDataDir();
    },
  };
}

/** Runs `work` with children that are always stopped afterwards, whatever happens. */
export async function withChildren<T>(
  work: (track: (child: Child) => Child) => Promise<T>,
): Promise<T> {
  const children: Child[] = [];
  try {
    return await work((child) => {
      children.push(child);
      return child;
    });
  } finally {
    await Promise.all(children.reverse().map((child) => child.stop()));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `http://127.0.0.1:<port>` of a child that announced its port. */
export function baseUrl(child: Child): string {
  return `http://127.0.0.1:${readyPort(child)}`;
}

/** The API key a first start prints in its "FIRST START" block on stderr, if any. */
export function bootstrapKeyIn(log: string): string | undefined {
  return /FIRST START[\s\S]*?\b(sc_[0-9a-f]{32}_[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/.exec(log)?.[1];
}
