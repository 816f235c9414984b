import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * How much of the event log to keep: events older than `maxAgeMs` or beyond the newest `maxEvents`
 * are pruned.
 */
export interface Retention {
  maxAgeMs: number | null;
  maxEvents: number | null;
}

const durationUnits: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `7d`, `12h`, `1000000` or both joined by a comma; null when the text is not of that form.
 */
export function parseRetention(text: string): Retention | null {
  const retention: Retention = { maxAgeMs: null, maxEvents: null };
  for (const part of text.split(',').map((item) => item.trim())) {
    const age = /^(\d{1,6})([smhd])$/.exec(part);
    if (age && retention.maxAgeMs === null)
      retention.maxAgeMs = Number(age[1]) * durationUnits[age[2]!]!;
    else if (/^\d{1,12}$/.test(part) && retention.maxEvents === null && Number(part) > 0)
      retention.maxEvents = Number(part);
    else return null;
  }
  return retention;
}

const ALLOWED_HOSTS_FORM = 'must be host names, each with an optional :port';
const HOST_ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:\d{1,5})?$/;

/**
 * Parses `ALLOWED_HOSTS`: comma-separated `name` or `name:port` (IPv6 in brackets), lowercased;
 * null when an entry is not of that form. A name without a port matches any port.
 */
export function parseAllowedHosts(text: string): string[] | null {
  const entries = text
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  return entries.every((entry) => HOST_ENTRY.test(entry)) ? entries : null;
}

function invalid(context: z.RefinementCtx, message: string): never {
  context.addIssue({ code: 'custom', message });
  return z.NEVER;
}

/**
 * Every environment variable the service reads, with its default. Parsing happens once at
 * start so that a bad value stops the process before it serves anything.
 */
export const configSchema = z
  .object({
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    DATABASE_URL: z
      .string()
      .refine((value) => /^(postgres(ql)?|memory):\/\//.test(value), {
        message: 'must start with postgres://, postgresql:// or memory://',
      })
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(20),
    REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    REDIS_URL: z
      .string()
      .refine((value) => /^rediss?:\/\//.test(value), {
        message: 'must start with redis:// or rediss://',
      })
      .optional(),
    EVENT_RETENTION: z
      .string()
      .transform(
        (value, context) =>
          parseRetention(value) ?? invalid(context, 'must be like "7d", "1000000" or "7d,1000000"'),
      )
      .default(parseRetention('7d,1000000')!),
    EVENT_PRUNE_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
    EVENT_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    WS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
    WS_MAX_BUFFERED_BYTES: z.coerce
      .number()
      .int()
      .min(1_024)
      .max(1_073_741_824)
      .default(4 * 1024 * 1024),
    WS_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
    AUTH: z.enum(['on', 'off']).default('on'),
    AUTH_KEY_CACHE_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    RATE_LIMIT_MAX: z.coerce.number().int().min(1).max(10_000_000).default(1_200),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
    CORS_ORIGINS: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin !== ''),
      )
      .optional(),
    METRICS_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    ALLOWED_HOSTS: z
      .string()
      .transform(
        (value, context) => parseAllowedHosts(value) ?? invalid(context, ALLOWED_HOSTS_FORM),
      )
      .optional(),
    TASK_SWEEP_MS: z.coerce.number().int().min(20).max(60_000).default(1_000),
    AGENT_OFFLINE_AFTER_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(90_000),
    MEMORY_MCP: z.enum(['on', 'off']).default('on'),
    MEMORY_MCP_COMMAND: z.string().min(1).optional(),
    MEMORY_MCP_URL: z.url({ protocol: /^https?$/ }).optional(),
    MEMORY_FILE_PATH: z.string().min(1).optional(),
    MEMORY_BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(1_000).default(5),
    MEMORY_BREAKER_OPEN_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
    MEMORY_BREAKER_HALF_OPEN_SUCCESSES: z.coerce.number().int().min(1).max(1_000).default(2),
    MEMORY_STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
    MEMORY_SEARCH_TIMEOUT_MS: z.coerce.number().int().min(10).max(600_000).default(2_000),
    MEMORY_CACHE_MAX_ENTRIES: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
    MEMORY_CACHE_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .max(4_294_967_296)
      .default(64 * 1024 * 1024),
  })
  .superRefine((config, context) => {
    if (config.AUTH === 'off' && !isLoopback(config.HOST)) {
      context.addIssue({
        code: 'custom',
        path: ['AUTH'],
        message: `off is only allowed when HOST is a loopback address, not ${config.HOST}`,
      });
    }
  });

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The validated configuration the rest of the service is built from. */
export type Config = z.infer<typeof configSchema>;

/** Thrown when the environment holds a value the service cannot run with. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads the configuration from an environment map (normally `process.env`). Empty strings count
 * as unset, so `PORT=` behaves like a missing variable rather than an invalid one.
 */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
}
