import fastifyCors from '@fastify/cors';
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import helmet from 'helmet';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { MAX_HEADER_COUNT } from '../http/liveness.js';
import { type Problem, loggableUrl, problem, sendProblem } from '../http/problem.js';
import { bearerToken } from '../http/request.js';

/**
 * What a browser page on an allowed origin may do: every method and request header the API uses
 * (a PATCH with If-Match included), and read the headers it answers with (ETag, Location, …).
 */
const CORS_RULES = {
  methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowedHeaders: ['authorization', 'content-type', 'if-match', 'if-none-match', 'x-request-id'],
  exposedHeaders: ['etag', 'location', 'retry-after', 'x-request-id', 'www-authenticate'],
  maxAge: 600,
};

/** The settings the hardening plugin reads. */
export type HardeningConfig = Pick<
  Config,
  'REDIS_URL' | 'RATE_LIMIT_MAX' | 'RATE_LIMIT_WINDOW_MS' | 'CORS_ORIGINS' | HostConfigKey
>;

type HostConfigKey = 'AUTH' | 'HOST' | 'ALLOWED_HOSTS';

/** Whether the service answers to a `Host` header value. */
export type HostFilter = (host: string) => boolean;

/**
 * Options of {@link hardeningPlugin}: the settings, and the security headers ({@link
 * securityHeaders}).
 */
export interface HardeningOptions {
  config: HardeningConfig;
  headers: Record<string, string>;
}

/**
 * The headers helmet sets with its defaults, computed once. `@fastify/helmet` rebuilds helmet's
 * middleware on every request (≈ 20 µs of a ≈ 170 µs GET); the header set is the same each time.
 */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | string[]) =>
      void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet()({} as never, response as never, () => undefined);
  return headers;
}

const VERIFIED_KEY_TTL_MS = 10 * 60_000;
const VERIFIED_KEYS_MAX = 10_000;

/**
 * Which rate-limit bucket a request counts against. A token this instance has seen
 * authenticate (within 10 minutes) counts against its key; everything else — no token, an
 * invalid one, one not verified yet — against the client address (IPv6 by /64). The bucket is
 * chosen before authentication, so a flood of made-up tokens is refused by its address once
 * the limit is reached, without a key lookup each; a valid key's first request counts once
 * against its address.
 */
export class RateLimitBuckets {
  /** Tokens that authenticated, by the token itself (never written anywhere), with their key id. */
  private readonly verified = new Map<string, { keyId: string; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The bucket name: `key:<key id>` or `ip:<address>`. */
  bucketOf(request: FastifyRequest): string {
    const token = bearerToken(request);
    const entry = token === undefined ? undefined : this.verified.get(token);
    if (entry !== undefined && entry.until > this.now()) return `key:${entry.keyId}`;
    return `ip:${normalizeIP(request.ip)}`;
  }

  /** After a request: remembers its token if it authenticated as a key. */
  remember(request: FastifyRequest): void {
    const keyId = (request.principal as FastifyRequest['principal'] | null)?.keyId;
    if (keyId === null || keyId === undefined) return;
    const token = bearerToken(request);
    if (token === undefined || (this.verified.get(token)?.until ?? 0) > this.now()) return;
    if (this.verified.size >= VERIFIED_KEYS_MAX) this.verified.clear();
    this.verified.set(token, { keyId, until: this.now() + VERIFIED_KEY_TTL_MS });
  }
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The Host check against DNS rebinding, or null when it is off. It is on with `AUTH=off` (a page
 * that rebinds its own name to 127.0.0.1 would otherwise get full access) and whenever
 * `ALLOWED_HOSTS` is set. Allowed: `localhost`, `127.0.0.1`, `[::1]` and `HOST` (unless a
 * wildcard) with any port, and each `ALLOWED_HOSTS` entry (a name alone allows any port).
 */
export function hostCheck(config: Pick<Config, HostConfigKey>): HostFilter | null {
  if (config.AUTH !== 'off' && config.ALLOWED_HOSTS === undefined) return null;
  const host = bracketed(config.HOST.toLowerCase());
  const names = new Set([...LOOPBACK_NAMES, ...(WILDCARD_HOSTS.has(host) ? [] : [host])]);
  const exact = new Set<string>();
  for (const entry of config.ALLOWED_HOSTS ?? []) (/:\d+$/.test(entry) ? exact : names).add(entry);
  return (value) => {
    const given = value.toLowerCase();
    return exact.has(given) || names.has(given.replace(/:\d*$/, ''));
  };
}

/**
 * The problem for a request that should not reach the app: more header fields than
 * {@link MAX_HEADER_COUNT} (431), no Host on HTTP/1.1 (400), or a Host the service does not
 * answer to (421). Null for a request that may go on.
 */
function protocolProblem(request: FastifyRequest, allowsHost: HostFilter | null): Problem | null {
  const raw = request.raw;
  if ((raw.rawHeaders?.length ?? 0) / 2 > MAX_HEADER_COUNT) {
    return problem(431, `The request has more than ${MAX_HEADER_COUNT} header fields`);
  }
  const host = raw.headers.host;
  if (host === undefined || host === '') {
    if (raw.httpVersion === '1.0') return null;
    return problem(400, 'An HTTP/1.1 request needs a Host header');
  }
  if (allowsHost === null || allowsHost(host)) return null;
  return problem(421, `This service does not answer for the host ${host}; see ALLOWED_HOSTS`);
}

function rateLimitStore(app: FastifyInstance, url: string | undefined): Redis | undefined {
  if (url === undefined) return undefined;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
  });
  redis.on('error', (error: Error) =>
    app.log.warn({ err: error }, 'rate-limit redis error; requests are let through meanwhile'),
  );
  app.addHook('onClose', async () => redis.disconnect());
  return redis;
}

const windowUnits: Array<[number, string]> = [
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1_000, 'second'],
  [1, 'ms'],
];

/**
 * The configured rate-limit window in words ("20 seconds", "1 minute", "1500 ms"), for the 429
 * detail: @fastify/rate-limit hands its error builder only the time left (`after`), which read
 * as the window ("per 16 seconds" with a 20-second window).
 */
export function windowText(ms: number): string {
  const [size, unit] = windowUnits.find(([length]) => ms >= length && ms % length === 0) ?? [
    1,
    'ms',
  ];
  const count = ms / size;
  return unit === 'ms' || count === 1 ? `${count} ${unit}` : `${count} ${unit}s`;
}

async function registerRateLimit(app: FastifyInstance, config: HardeningConfig): Promise<void> {
  const buckets = new RateLimitBuckets();
  await app.register(fastifyRateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => buckets.bucketOf(request),
    allowList: (request) => /^\/health([/?]|$)/.test(request.url),
    redis: rateLimitStore(app, config.REDIS_URL),
    nameSpace: 'swarm-control:rate-limit:',
    skipOnError: true,
    errorResponseBuilder: (_request, { max, after }) => {
      const window = windowText(config.RATE_LIMIT_WINDOW_MS);
      const detail = `Rate limit of ${max} requests per ${window} exceeded; retry after ${after}`;
      return Object.assign(new Error(detail), { statusCode: 429 });
    },
  });
  if (config.AUTH === 'off') return;
  app.addHook('onResponse', (request, _reply, done) => {
    buckets.remember(request);
    done();
  });
}

/**
 * Security headers (helmet's defaults), refusal of requests with too many header fields, no
 * Host or a foreign one ({@link hostCheck}), CORS only for the configured origins, and rate
 * limiting per verified key or per client address ({@link RateLimitBuckets}), shared by every
 * instance through Redis when `REDIS_URL` is set (a Redis outage lets requests through rather
 * than failing them). Health checks are never limited.
 */
export const hardeningPlugin = fastifyPlugin<HardeningOptions>(
  async (app, { config, headers }) => {
    const allowsHost = hostCheck(config);
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      reply.headers(headers);
      const refused = protocolProblem(request, allowsHost);
      if (refused === null) return done();
      void sendProblem(reply, { ...refused, instance: loggableUrl(request.url) });
    });
    if (config.CORS_ORIGINS !== undefined)
      await app.register(fastifyCors, { origin: config.CORS_ORIGINS, ...CORS_RULES });
    await registerRateLimit(app, config);
  },
  { name: 'hardening' },
);
