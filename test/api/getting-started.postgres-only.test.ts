import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { CliUsageError, runCli, usage } from '../../src/cli.js';
import { currentHolder } from '../../src/store/data-directory-lock.js';
import { openDatabase } from '../../src/store/database.js';
import { type TestApp, createTestApp, openTestDatabase, testConfig } from '../support/app.js';
import { freePort } from '../support/free-port.js';
import { keyHeader } from '../support/keys.js';
import { unpackPgliteSnapshot } from '../support/pglite-snapshot.js';
import { makeTempDir } from '../support/process.js';

/**
 * What a new user meets first (issue "What a new user hits first"), in this process so that its
 * coverage counts: the CLI's messages and exit paths, the CLI through a running service's API, the
 * CLI on a locked embedded database, and the first-start admin key. The same with real processes:
 * test/faults/embedded-database.test.ts and test/faults/npm-start-signals.test.ts.
 */
let t: TestApp;
let baseUrl: string;
let adminKey: string;

beforeAll(async () => {
  t = await createTestApp({ AUTH: 'on' });
  baseUrl = await t.listen();
  adminKey = (await keyHeader(t.app, { role: 'admin' })).authorization!.slice('Bearer '.length);
});
afterAll(() => t.close());

async function usageError(argv: string[], environment: NodeJS.ProcessEnv = {}): Promise<string> {
  const error = await runCli(argv, environment).then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CliUsageError);
  return (error as Error).message;
}

describe('cli usage', () => {
  it('prints the usage for help and nothing else', async () => {
    for (const argv of [[], ['help'], ['--help'], ['-h']])
      expect(await runCli(argv, {})).toBe(usage);
  });

  it('answers a wrong command line with one line (the usage follows it, exit code 2)', async () => {
    const role = await usageError(['keys', 'create', '--role', 'boss']);
    expect(role).toBe('Invalid --role: expected one of "admin"|"writer"|"reader"');
    expect(await usageError(['keys', 'create'])).toMatch(/^Invalid --role: /);
    expect(await usageError(['keys', 'create', '--role', 'reader', '--project', 'x'])).toMatch(
      /^Invalid --project: /,
    );
    expect(await usageError(['keys', 'create', '--role', 'reader', '--colour', 'red'])).toMatch(
      /Unknown option '--colour'/,
    );
    expect(await usageError(['keys', 'revoke'])).toBe('keys revoke needs the id of the key');
    expect(await usageError(['keys', 'revoke', 'abc'])).toBe('Not a key id: abc');
    expect(await usageError(['keys', 'drop'])).toBe('Unknown command: keys drop');
    expect(await usageError(['keys', 'list', '--key', 'k'])).toBe('--key goes with --url');
    expect(await usageError(['keys', 'list', '--url', baseUrl])).toMatch(
      /^--url needs an admin key/,
    );
    const noScheme = await usageError(['keys', 'list', '--url', 'localhost:3000'], {
      SWARM_API_KEY: 'k',
    });
    expect(noScheme).toBe(
      "--url needs the service's URL, e.g. http://127.0.0.1:3000, not localhost:3000",
    );
  });
});

describe('cli through a running service (--url)', () => {
  it('creates, lists and revokes keys with an admin key from SWARM_API_KEY or --key', async () => {
    const environment = { SWARM_API_KEY: adminKey };
    const args = ['--url', baseUrl];
    const created = JSON.parse(
      await runCli(['keys', 'create', '--role', 'reader', '--name', 'api', ...args], environment),
    );
    expect(created).toMatchObject({
      name: 'api',
      role: 'reader',
      key: expect.stringMatching(/^sc_/),
    });
    expect(await t.app.auth.authenticate(created.key)).toMatchObject({ role: 'reader' });
    const listed = JSON.parse(await runCli(['keys', 'list', ...args, '--key', adminKey], {}));
    expect(listed.map((key: { id: string }) => key.id)).toContain(created.id);
    expect(await runCli(['keys', 'revoke', created.id, ...args], environment)).toBe(
      `revoked ${created.id}`,
    );
    const unknown = randomUUID();
    const missing = runCli(['keys', 'revoke', unknown, ...args], environment);
    await expect(missing).rejects.toThrow(`The service answered 404 Not Found: Key ${unknown}`);
  });

  it('says in one line why the service refused, or that it cannot be reached', async () => {
    const wrong = runCli(['keys', 'list', '--url', baseUrl], { SWARM_API_KEY: 'sc_nothing' });
    await expect(wrong).rejects.toThrow(
      /^The service answered 401 Unauthorized: The API key is unknown or revoked$/,
    );
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = runCli(['keys', 'list', '--url', closed], { SWARM_API_KEY: adminKey });
    await expect(down).rejects.toThrow(
      `Cannot reach the service at ${closed}: connect ECONNREFUSED`,
    );
  });
});

describe('cli on the embedded database', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = makeTempDir('swarm-cli-embedded-');
    await unpackPgliteSnapshot(inject('pgliteSnapshotPath'), join(dataDir, 'pglite'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses while another process holds it, takes over the lock of one gone', async () => {
    const environment = { DATA_DIR: dataDir, PORT: '3999' };
    const held = await openDatabase({ engine: 'pglite', dataDir: join(dataDir, 'pglite') });
    try {
      const refused = runCli(['keys', 'create', '--role', 'reader'], environment);
      await expect(refused).rejects.toThrow(
        new RegExp(
          `^The embedded database in ${dataDir}/pglite is held by PID ${process.pid} .*` +
            'add --url http://127\\.0\\.0\\.1:3999 and put an admin key in SWARM_API_KEY',
        ),
      );
    } finally {
      await held.close();
    }
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(
      join(dataDir, 'pglite.lock'),
      JSON.stringify({ ...currentHolder(), pid: gone, start_ticks: null }),
    );
    const warnings: string[] = [];
    const created = JSON.parse(
      await runCli(['keys', 'create', '--role', 'writer'], environment, (message) =>
        warnings.push(message),
      ),
    );
    expect(created).toMatchObject({ name: 'cli writer key', role: 'writer' });
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`^took over the stale lock .* of PID ${gone} `)),
    ]);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);
  });
});

describe('first start', () => {
  it('prints the admin key once in a block of its own, logs only that one was made', async () => {
    const { database, drop } = await openTestDatabase();
    const logged: string[] = [];
    const stream = new Writable({
      write: (chunk, _encoding, done) => done(void logged.push(String(chunk))),
    });
    const announced: string[] = [];
    const options = {
      config: testConfig({ AUTH: 'on' }),
      database: { handle: database },
      logger: { level: 'info', stream },
    };
    const app = await buildApp({ ...options, announce: (text) => announced.push(text) });
    try {
      await app.ready();
      expect(announced).toHaveLength(1);
      const key = /^ {4}(sc_\S+)$/m.exec(announced[0]!)![1]!;
      expect(announced[0]).toMatch(
        /^\n={72}\nFIRST START: an admin API key was created\. It is shown this once/,
      );
      expect(announced[0]!.trimEnd().split('\n').at(-1)).toBe('='.repeat(72));
      expect(logged.join('')).not.toContain(key.slice(36));
      expect(logged.map((line) => JSON.parse(line).msg)).toContain(
        'first start: created an admin API key, printed once to stderr',
      );
    } finally {
      await app.close();
      await database.close();
      await drop();
    }
  });
});
