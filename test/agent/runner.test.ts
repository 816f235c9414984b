import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseOptions } from '../../src/agent/options.js';
import { Runner } from '../../src/agent/runner.js';
import { type TestApp, createTestApp } from '../support/app.js';
import { keyHeader } from '../support/keys.js';
import { processAlive, scratchDirectory } from '../support/process.js';

/**
 * The runner in this process (so its coverage counts) against the listening app, running real
 * commands through /bin/sh: success, failure, timeout, cancel, concurrency and a graceful stop.
 * test/agent/runner-processes.test.ts runs it as its own process (SIGKILL, SIGTERM, restarts).
 */
let t: TestApp;
let baseUrl: string;
let writer: string;
let projectId: string;
let scratch: string;
const runners: Array<{ runner: Runner; done: Promise<void> }> = [];
const logs: string[] = [];

beforeAll(async () => {
  // The maintenance loop's first tick comes after 60 s: what the runner times out, it reports
  // itself, which a sweep finding the deadline first (the output lost) would make a coin toss.
  t = await createTestApp({ AUTH: 'on', TASK_SWEEP_MS: '60000' });
  baseUrl = await t.listen();
});
afterAll(async () => {
  // An aborted long poll leaves undici a fresh connection that never sends a request; Node's
  // server.close() waits for such a connection forever; this file does not test shutdown.
  t.app.server.closeAllConnections();
  await t.close();
});
beforeEach(async () => {
  await t.reset();
  writer = (await keyHeader(t.app, { role: 'writer' })).authorization!.slice('Bearer '.length);
  projectId = (await api('POST', '/projects', { name: 'Runner' })).id;
  scratch = mkdtempSync(join(scratchDirectory(), 'runner-'));
  logs.length = 0;
});
afterEach(async () => {
  for (const { runner } of runners) runner.stop(0);
  await Promise.all(runners.splice(0).map(({ done }) => done));
  rmSync(scratch, { recursive: true, force: true });
});

async function api(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) {
  const response = await t.request({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${writer}` },
    ...(payload === undefined ? {} : { payload }),
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.body === '' ? undefined : response.json();
}

function task(fields: object) {
  return api('POST', '/tasks', { project_id: projectId, title: 'job', ...fields });
}

function startRunner(command: string, extra: string[] = []): Runner {
  const argv = ['--url', baseUrl, '--key', writer, '--name', 'runner', '--type', 'coder'];
  const options = parseOptions([
    ...argv,
    ...['--project', projectId, '--command', command, '--wait-ms', '1000'],
    ...['--progress-ms', '0', ...extra],
  ]);
  const runner = new Runner(options, {
    log: (line) => logs.push(line),
    retry: { baseMs: 20, maxMs: 200 },
    killGraceMs: 300,
  });
  runners.push({ runner, done: runner.run() });
  return runner;
}

async function settled(id: string, timeout = 10_000) {
  const ended = expect
    .poll(async () => (await api('GET', `/tasks/${id}`)).status, { timeout, interval: 50 })
    .toMatch(/^(succeeded|failed|cancelled)$/);
  // On a miss, what the runner said is what tells a slow machine from a lost completion.
  await ended.catch(async (error: Error) => {
    const { items } = await api('GET', `/tasks/${id}/attempts`);
    const attempts = JSON.stringify(items, null, 1);
    throw new Error(`${error.message}\nrunner log:\n${logs.join('\n')}\nattempts: ${attempts}`, {
      cause: error,
    });
  });
  return api('GET', `/tasks/${id}`);
}

/** Waits until the runner has the claim in hand (a status of `running` comes a moment earlier). */
async function claimedBy(id: string) {
  await expect.poll(() => logs.some((line) => line.startsWith(`claimed task ${id}`))).toBe(true);
}

async function events(type: string) {
  const { items } = await api('GET', '/events?after=0&limit=1000');
  return items.filter((event: { type: string }) => event.type === type);
}

describe('a command per task', () => {
  it('completes with the JSON of the last line, the input on stdin and in a file', async () => {
    const created = await task({ input: { n: 41 } });
    startRunner(
      'cat; echo; sleep 0.3; cat "$SWARM_TASK_INPUT_FILE" > /dev/null; ' +
        'echo "{\\"id\\":\\"$SWARM_TASK_ID\\",\\"attempt\\":$SWARM_ATTEMPT}"',
    );
    const done = await settled(created.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { id: created.id, attempt: 1 } });
    const [attempt] = (await api('GET', `/tasks/${created.id}/attempts`)).items;
    expect(attempt.output).toContain('{"n":41}');
    const progress = (await events('TASK_EXECUTION')).filter(
      (event: { data: { phase: string } }) => event.data.phase === 'progress',
    );
    expect(progress[0].data.task.progress.message).toBe('{"n":41}');
  });

  it('gives a string input as plain text and the stdout tail as a non-JSON result', async () => {
    const created = await task({ input: 'write a haiku' });
    startRunner('tr a-z A-Z');
    expect(await settled(created.id)).toMatchObject({ result: 'WRITE A HAIKU' });
  });

  it('fails with the end of stderr on a non-zero exit', async () => {
    const created = await task({ max_attempts: 1 });
    startRunner('echo partial; echo "compiler said no" >&2; exit 3');
    const done = await settled(created.id);
    expect(done).toMatchObject({ status: 'failed', error: 'compiler said no' });
    const [attempt] = (await api('GET', `/tasks/${created.id}/attempts`)).items;
    expect(attempt).toMatchObject({ outcome: 'failed', output: 'partial\n' });
  });

  it('kills the process group of a command that outlives timeout_ms', async () => {
    const created = await task({ max_attempts: 1, timeout_ms: 400 });
    const pids = join(scratch, 'pids');
    startRunner(`echo $$ > ${pids}; sleep 30 & echo $! >> ${pids}; wait`);
    const done = await settled(created.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/timed out/);
    const [shell, sleeper] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    await expect.poll(() => [processAlive(shell!), processAlive(sleeper!)]).toEqual([false, false]);
  });

  it('ends an attempt it timed out as timed_out, keeping its output and error', async () => {
    const created = await task({ max_attempts: 1, timeout_ms: 500 });
    startRunner('echo partial; exec sleep 20');
    const error = "timed out after 500 ms: the runner killed the command's process group";
    expect(await settled(created.id)).toMatchObject({ status: 'failed', error });
    const [attempt] = (await api('GET', `/tasks/${created.id}/attempts`)).items;
    expect(attempt).toMatchObject({ outcome: 'timed_out', output: 'partial\n', error });
    const phases = (await events('TASK_EXECUTION')).map(
      (event: { data: { phase: string } }) => event.data.phase,
    );
    expect(phases.at(-1)).toBe('timed_out');
    expect(phases).not.toContain('failed');
    const stats = await api('GET', '/stats');
    expect(stats.runs_last_hour.by_outcome).toMatchObject({ failed: 0, timed_out: 1 });
  });

  it('kills the command when a heartbeat brings news of a cancel', async () => {
    const created = await task({ lease_ms: 600 });
    const pid = join(scratch, 'pid');
    startRunner(`echo $$ > ${pid}; echo started; exec sleep 30`);
    await expect.poll(() => existsSync(pid) && readFileSync(pid, 'utf8').endsWith('\n')).toBe(true);
    await api('POST', `/tasks/${created.id}/cancel`);
    const killed = Number(readFileSync(pid, 'utf8'));
    await expect.poll(() => processAlive(killed), { timeout: 5_000 }).toBe(false);
    expect((await api('GET', `/tasks/${created.id}`)).status).toBe('cancelled');
    await expect.poll(() => logs.some((line) => line.includes('cancelled'))).toBe(true);
  });

  it('runs --concurrency tasks at once', async () => {
    const created = await Promise.all([task({}), task({}), task({})]);
    startRunner('sleep 1.5; echo "{}"', ['--concurrency', '3']);
    for (const { id } of created) expect((await settled(id)).status).toBe('succeeded');
    const attempts = await Promise.all(
      created.map(async ({ id }) => (await api('GET', `/tasks/${id}/attempts`)).items[0]),
    );
    const lastStart = Math.max(...attempts.map((a) => Date.parse(a.claimed_at)));
    const firstEnd = Math.min(...attempts.map((a) => Date.parse(a.ended_at)));
    expect(lastStart).toBeLessThan(firstEnd);
  });
});

describe('a long-lived runner', () => {
  it('leaves no listener behind on its connection, claim after claim', async () => {
    const sockets = new Set<Socket>();
    let claims = 0;
    const onConnection = (socket: Socket) => sockets.add(socket);
    const onRequest = (request: IncomingMessage) =>
      void (request.url === '/api/v1/tasks/claim' && (claims += 1));
    t.app.server.on('connection', onConnection).on('request', onRequest);
    try {
      startRunner('true', ['--wait-ms', '0']);
      await expect.poll(() => claims, { timeout: 10_000 }).toBeGreaterThanOrEqual(30);
      const most = Math.max(...[...sockets].map((socket) => socket.listenerCount('close')));
      expect(most).toBeLessThanOrEqual(3);
    } finally {
      t.app.server.off('connection', onConnection).off('request', onRequest);
    }
  });
});

describe('stopping', () => {
  it('lets a running task finish within the grace period, then stops', async () => {
    const created = await task({});
    const runner = startRunner('sleep 0.5; echo \'{"finished":true}\'');
    await claimedBy(created.id);
    runner.stop(10_000);
    await runners.at(-1)!.done;
    expect(await api('GET', `/tasks/${created.id}`)).toMatchObject({ result: { finished: true } });
    const agent = (await api('GET', `/agents?name=runner`)).items[0];
    expect(agent.status).toBe('offline');
  });

  it('kills and fails as retryable what the grace period did not let finish', async () => {
    const created = await task({ backoff: { base_ms: 60_000, max_ms: 60_000 } });
    const runner = startRunner('exec sleep 30');
    await claimedBy(created.id);
    runner.stop(200);
    await runners.at(-1)!.done;
    const after = await api('GET', `/tasks/${created.id}`);
    expect(after).toMatchObject({ status: 'scheduled', error: expect.stringMatching(/shut down/) });
  });

  it('stops, saying why, once the service refuses its claims (its agent was deleted)', async () => {
    const runner = startRunner('true');
    await expect.poll(() => runner.agentId).toBeDefined();
    await api('DELETE', `/agents/${runner.agentId}`);
    const { done } = runners.pop()!;
    await expect(done).rejects.toMatchObject({ status: 404 });
    expect(logs.some((line) => /^claim refused \(.*\); stopping$/.test(line))).toBe(true);
  });

  it('reuses its agent by name when it starts again', async () => {
    startRunner('true');
    await expect.poll(() => runners[0]!.runner.agentId).toBeDefined();
    const first = runners[0]!.runner.agentId;
    startRunner('true', ['--capabilities', 'ts,sql']);
    await expect.poll(() => runners[1]!.runner.agentId).toBe(first);
    const agent = await api('GET', `/agents/${first}`);
    expect(agent.capabilities).toEqual(['ts', 'sql']);
  });
});
