import { parseArgs } from 'node:util';
import { z } from 'zod';
import { type Config, isLoopback, loadConfig } from './config.js';
import { type KeyInput, keyInputSchema, systemActor } from './domain/auth.js';
import { AuthService } from './services/auth-service.js';
import { WriteTransactions } from './store/write-transaction.js';
import { DataDirectoryLockedError, describeHolder } from './store/data-directory-lock.js';
import { openDatabase, resolveDatabaseTarget } from './store/database.js';

/** The CLI's help text, printed for `help` and after every usage error. */
export const usage = `Usage:
  npm run cli -- keys create --role admin|writer|reader [--project <uuid>]... [--name <text>]
  npm run cli -- keys list
  npm run cli -- keys revoke <key id>

Each command also takes --url <service URL> (e.g. http://127.0.0.1:3000) to go through a running
service's API, with an admin key in SWARM_API_KEY (or --key <admin key>, which other users of
this machine can see in the process list).

Without --url the CLI opens the database itself, with the service's DATABASE_URL / DATA_DIR. The
embedded database (no DATABASE_URL) can be open in one process only: while the service runs on
it, use --url.`;

/** A command line the CLI cannot run: printed with the usage, exit code 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** The three key commands, over the database or over a running service's API. */
interface KeyCommands {
  create(input: KeyInput): Promise<unknown>;
  list(): Promise<unknown>;
  revoke(id: string): Promise<void>;
}

const options = {
  role: { type: 'string' },
  project: { type: 'string', multiple: true },
  name: { type: 'string' },
  url: { type: 'string' },
  key: { type: 'string' },
} as const;
type Options = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;

const flagOf: Record<string, string> = { role: '--role', project_ids: '--project', name: '--name' };

function parse(args: string[]): Options {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
}

/** Reads `keys create` options into the input the API validates; a bad value is a usage error. */
export function keyInputFrom(args: string[]): KeyInput {
  const { values } = parse(args);
  const name = values.name ?? `cli ${values.role ?? ''} key`.trim();
  const projectIds = values.project ?? null;
  const parsed = keyInputSchema.safeParse({ name, role: values.role, project_ids: projectIds });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const flag = flagOf[String(issue.path[0])] ?? issue.path.join('.');
    return `Invalid ${flag}: ${issue.message.replace(/^Invalid (option|input): /, '')}`;
  });
  throw new CliUsageError(problems.join('; '));
}

function keyIdFrom(positionals: string[]): string {
  const id = positionals[0];
  if (id === undefined) throw new CliUsageError('keys revoke needs the id of the key');
  if (!z.uuid().safeParse(id).success) throw new CliUsageError(`Not a key id: ${id}`);
  return id;
}

const warnOnStderr = (message: string) => void process.stderr.write(`warning: ${message}\n`);

/**
 * Runs one CLI command and returns what to print. Throws {@link CliUsageError} for a command line
 * it cannot run, and an Error with a one-line message when the command fails. `warn` is told what
 * an operator should know but that does not stop the command (a stale lock taken over).
 */
export async function runCli(
  argv: string[],
  environment: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = warnOnStderr,
): Promise<string> {
  const [group, command, ...rest] = argv;
  if (group === undefined || ['help', '--help', '-h'].includes(group)) return usage;
  if (group !== 'keys' || !['create', 'list', 'revoke'].includes(command ?? '')) {
    throw new CliUsageError(`Unknown command: ${argv.join(' ')}`);
  }
  const { values, positionals } = parse(rest);
  const input = command === 'create' ? keyInputFrom(rest) : null;
  const id = command === 'revoke' ? keyIdFrom(positionals) : null;
  const config = loadConfig(environment);
  const access = { config, values, environment, warn };
  return withKeyCommands(access, async (keys) => {
    if (input !== null) return JSON.stringify(await keys.create(input), null, 2);
    if (id === null) return JSON.stringify(await keys.list(), null, 2);
    await keys.revoke(id);
    return `revoked ${id}`;
  });
}

/** How a command reaches the keys: the configuration, the options and where warnings go. */
interface KeyAccess {
  config: Config;
  values: Options['values'];
  environment: NodeJS.ProcessEnv;
  warn: (message: string) => void;
}

async function withKeyCommands(
  access: KeyAccess,
  work: (keys: KeyCommands) => Promise<string>,
): Promise<string> {
  const { values, environment } = access;
  if (values.url !== undefined) {
    const key = values.key ?? environment.SWARM_API_KEY;
    if (key === undefined || key === '') {
      throw new CliUsageError('--url needs an admin key: SWARM_API_KEY or --key');
    }
    return work(serviceKeyCommands(serviceUrl(values.url), key));
  }
  if (values.key !== undefined) throw new CliUsageError('--key goes with --url');
  return withDatabaseKeyCommands(access, work);
}

/** Opens the database for one command, and closes it before the answer is printed. */
async function withDatabaseKeyCommands(
  { config, warn }: KeyAccess,
  work: (keys: KeyCommands) => Promise<string>,
): Promise<string> {
  const target = resolveDatabaseTarget(config.DATABASE_URL, config.DATA_DIR, 2);
  const database = await openDatabase(target, { warn }).catch((error: unknown) => {
    throw error instanceof DataDirectoryLockedError ? lockedAdvice(error, config) : error;
  });
  try {
    const bus = { publish: () => undefined };
    const writes = new WriteTransactions(database, bus);
    const auth = new AuthService(database.db, writes);
    const actor = { ...systemActor, userAgent: 'swarm-control cli' };
    return await work({
      create: (input) => auth.createKey(input, actor),
      list: () => auth.listKeys(),
      revoke: (id) => auth.revokeKey(id, actor),
    });
  } finally {
    await database.close();
  }
}

/**
 * What to do when the embedded database is held (most often by the running service): go through
 * its API. Nothing is written, so nothing printed can be lost.
 */
function lockedAdvice(error: DataDirectoryLockedError, config: Config): Error {
  if (error.holder === null) return error;
  const host = isLoopback(config.HOST) ? config.HOST : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT || 3000}`;
  return new Error(
    `The embedded database in ${error.directory} is held by ${describeHolder(error.holder)}. ` +
      `While that service runs, go through its API: add --url ${url} and put an admin key in ` +
      `SWARM_API_KEY (or: curl -XPOST ${url}/api/v1/keys -H "authorization: Bearer <admin key>" ` +
      `-H 'content-type: application/json' -d '{"name":"…","role":"reader"}').`,
  );
}

function serviceUrl(text: string): URL {
  const url = URL.canParse(text) ? new URL(text) : null;
  if (url === null || !['http:', 'https:'].includes(url.protocol)) {
    throw new CliUsageError(
      `--url needs the service's URL, e.g. http://127.0.0.1:3000, not ${text}`,
    );
  }
  return url;
}

/** The key commands over a running service's REST API (admin key required). */
function serviceKeyCommands(baseUrl: URL, apiKey: string): KeyCommands {
  const call = (method: string, path: string, body?: unknown) =>
    callService(new URL(path, baseUrl), apiKey, method, body);
  return {
    create: (input) => call('POST', '/api/v1/keys', input),
    list: async () => ((await call('GET', '/api/v1/keys')) as { items: unknown[] }).items,
    revoke: async (id) => void (await call('DELETE', `/api/v1/keys/${id}`)),
  };
}

const SERVICE_TIMEOUT_MS = 15_000;

async function callService(
  url: URL,
  key: string,
  method: string,
  body?: unknown,
): Promise<unknown> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const signal = AbortSignal.timeout(SERVICE_TIMEOUT_MS);
  const request = { method, headers, body: payload, signal };
  const response = await fetch(url, request).catch((error: Error) => {
    const reason = (error.cause as Error | undefined)?.message ?? error.message;
    throw new Error(`Cannot reach the service at ${url.origin}: ${reason}`);
  });
  if (!response.ok) throw new Error(`The service answered ${await problemLine(response)}`);
  return response.status === 204 ? undefined : response.json();
}

/** A problem document (or any error answer) as one line: status, title and detail. */
async function problemLine(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string };
    const title = problem.title ?? response.statusText;
    return `${response.status} ${title}: ${problem.detail ?? ''}`.trim();
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}
