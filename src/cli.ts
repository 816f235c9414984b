import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { type KeyInput, keyInputSchema, systemActor } from './domain/auth.js';
import { EventLog } from './events/event-log.js';
import { AuthService } from './services/auth-service.js';
import { WriteTransactions } from './services/write-transaction.js';
import { openDatabase, resolveDatabaseTarget } from './store/database.js';

const usage = `Usage:
  npm run cli -- keys create --role admin|writer|reader [--project <uuid>]... [--name <text>]
  npm run cli -- keys list
  npm run cli -- keys revoke <key id>

Uses the same DATABASE_URL / DATA_DIR as the service. On the embedded database (no DATABASE_URL)
stop the service first: PGlite allows one process at a time.`;

/** Reads `keys create` options into the same input the API validates. */
export function keyInputFrom(args: string[]): KeyInput {
  const { values } = parseArgs({ args, options: { role: { type: 'string' }, project: { type: 'string', multiple: true }, name: { type: 'string' } } });
  return keyInputSchema.parse({ name: values.name ?? `cli ${values.role ?? ''} key`.trim(), role: values.role, project_ids: values.project ?? null });
}

/** Runs one CLI command and returns what to print. */
export async function runCli(argv: string[], environment: NodeJS.ProcessEnv = process.env): Promise<string> {
  const [group, command, ...rest] = argv;
  if (group !== 'keys' || !['create', 'list', 'revoke'].includes(command ?? '')) return usage;
  const config = loadConfig(environment);
  const database = await openDatabase(resolveDatabaseTarget(config.DATABASE_URL, config.DATA_DIR, 2));
  try {
    const auth = new AuthService(database.db, new WriteTransactions(database.transaction, new EventLog(), { publish: () => undefined }));
    if (command === 'create') return JSON.stringify(await auth.createKey(keyInputFrom(rest), { ...systemActor, userAgent: 'swarm-control cli' }), null, 2);
    if (command === 'list') return JSON.stringify(await auth.listKeys(), null, 2);
    await auth.revokeKey(rest[0] ?? '', { ...systemActor, userAgent: 'swarm-control cli' });
    return `revoked ${rest[0]}`;
  } finally {
    await database.close();
  }
}
