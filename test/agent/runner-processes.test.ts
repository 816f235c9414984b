import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, createTestDatabase } from '../support/database.js';
import { freePort } from '../support/free-port.js';
import { processAlive, scratchDirectory } from '../support/process.js';
import { distDirectory, serviceArgs } from '../support/programs.js';
import {
  type Program,
  childEnvironment,
  exitOf,
  killProgram,
  startProgram,
} from '../support/service-process.js';

/**
 * The runner as its own process (`node dist/agent/main.js`, what `swarm-agent` runs) against
 * the service as its own process: a runner SIGKILLed mid-task, a runner stopped by SIGTERM,
 * and the service killed and restarted under a working runner.
 */
let database: TestDatabase;
let service: ChildProcess | undefined;
let port: number;
let baseUrl: string;
let scratch: string;
const runners: Program[] = [];
type Json = ReturnType<typeof JSON.parse>;

beforeAll(async () => {
  database = await createTestDatabase();
  port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  scratch = mkdtempSync(join(scratchDirectory(), 'runner-processes-'));
  service = await startService();
});
afterEach(async () => {
  for (const runner of runners.splice(0)) await killProgram(runner);
});
afterAll(async () => {
  await stopService();
  await database?.drop();
  rmSync(scratch, { recursive: true, force: true });
});

async function startService(): Promise<ChildProcess> {
  const env = {
    DATABASE_URL: database.url,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MEMORY_MCP: 'off',
    AUTH: 'off',
    TASK_SWEEP_MS: '100',
    RATE_LIMIT_MAX: '10000000',
  };
  const child = spawn(process.execPath, serviceArgs(), {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const ready = () =>
    fetch(`${baseUrl}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
  for (const deadline = Date.now() + 20_000; !(await ready());) {
    if (Date.now() > deadline) throw new Error('the service did not become ready in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return child;
}

async function stopService(): Promise<void> {
  if (service === undefined || service.exitCode !== null) return;
  service.kill('SIGKILL');
  await once(service, 'exit');
}

async function api(method: 'GET' | 'POST', url: string, body?: object) {
  const response = await fetch(`${baseUrl}/api/v1${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, url).toBeLessThan(300);
  return (await response.json()) as Json;
}

function startRunner(name: string, project: string, command: string): Program {
  const args = [join(distDirectory(), 'agent', 'main.js'), '--url', baseUrl, '--name', name];
  const options = ['--type', 'coder', '--project', project, '--command', command];
  const runner = startProgram(process.execPath, [...args, ...options, '--wait-ms', '1000'], {
    cwd: scratch,
    env: childEnvironment({}),
  });
  runners.push(runner);
  return runner;
}

async function finished(id: string, timeout = 20_000) {
  await expect
    .poll(async () => (await api('GET', `/tasks/${id}`)).status, { timeout, interval: 100 })
    .toMatch(/^(succeeded|failed|cancelled)$/);
  return api('GET', `/tasks/${id}`);
}

describe('the runner as a process', () => {
  it('loses a task when SIGKILLed; its lease expires and a second runner completes it', async () => {
    const project = await api('POST', '/projects', { name: 'Kill' });
    const created = await api('POST', '/tasks', {
      project_id: project.id,
      title: 'survives its runner',
      lease_ms: 500,
      backoff: { base_ms: 0, max_ms: 0 },
    });
    const pid = join(scratch, 'first-attempt.pid');
    const command =
      `if [ "$SWARM_ATTEMPT" = 1 ]; then echo $$ > ${pid}; exec sleep 30; fi; ` +
      'echo "{\\"attempt\\":$SWARM_ATTEMPT}"';
    const first = startRunner('first', project.id, command);
    await expect.poll(() => existsSync(pid), { timeout: 15_000 }).toBe(true);
    await killProgram(first);
    const orphan = Number(readFileSync(pid, 'utf8'));
    try {
      startRunner('second', project.id, command);
      const done = await finished(created.id);
      expect(done).toMatchObject({ status: 'succeeded', result: { attempt: 2 } });
      const attempts = (await api('GET', `/tasks/${created.id}/attempts`)).items;
      expect(attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['lost', 'succeeded']);
    } finally {
      process.kill(-orphan, 'SIGKILL');
    }
  });

  it('stops on SIGTERM after the running task finished, with exit code 0', async () => {
    const project = await api('POST', '/projects', { name: 'Term' });
    const created = await api('POST', '/tasks', { project_id: project.id, title: 'finish me' });
    const started = join(scratch, 'term.started');
    const runner = startRunner(
      'term',
      project.id,
      `touch ${started}; sleep 0.8; echo '{"done":true}'`,
    );
    await expect.poll(() => existsSync(started), { timeout: 15_000 }).toBe(true);
    process.kill(runner.process.pid, 'SIGTERM');
    expect(await exitOf(runner)).toEqual({ code: 0, signal: null });
    expect(await api('GET', `/tasks/${created.id}`)).toMatchObject({
      status: 'succeeded',
      result: { done: true },
    });
    expect(runner.stderr()).toContain('stopped');
  });

  it('takes a Ctrl-C under npm run agent, which arrives twice, as one: the task finishes', async () => {
    const project = await api('POST', '/projects', { name: 'Int' });
    const created = await api('POST', '/tasks', { project_id: project.id, title: 'finish me too' });
    const started = join(scratch, 'int.started');
    const runner = startRunner('int', project.id, `touch ${started}; sleep 0.8; echo '{"ok":1}'`);
    await expect.poll(() => existsSync(started), { timeout: 15_000 }).toBe(true);
    process.kill(runner.process.pid, 'SIGINT');
    // npm forwards its copy once its own event loop ran: the runner has taken the first one.
    await expect.poll(() => runner.stderr()).toContain('stopping: 1 task(s) running');
    process.kill(runner.process.pid, 'SIGINT');
    expect(await exitOf(runner)).toEqual({ code: 0, signal: null });
    expect(await api('GET', `/tasks/${created.id}`)).toMatchObject({ status: 'succeeded' });
  });

  it('loses nothing when the service is killed and restarted under a working runner', async () => {
    const project = await api('POST', '/projects', { name: 'Restart' });
    const tasks: Json[] = [];
    for (let index = 0; index < 3; index += 1)
      tasks.push(
        await api('POST', '/tasks', {
          project_id: project.id,
          title: `task ${index}`,
          input: { index },
          // Longer than any restart here: a lease that ran out in the outage would rightly give
          // the task a second attempt (at-least-once), which is not what this test is about.
          lease_ms: 60_000,
        }),
      );
    const marks = join(scratch, 'restart');
    const runner = startRunner(
      'steady',
      project.id,
      `touch ${marks}-$SWARM_TASK_ID; sleep 0.7; echo "{\\"task\\":\\"$SWARM_TASK_ID\\"}"`,
    );
    await expect.poll(() => existsSync(`${marks}-${tasks[0].id}`), { timeout: 15_000 }).toBe(true);
    await stopService(); // its start takes seconds: the outage the runner sees
    service = await startService();
    for (const task of tasks) {
      const done = await finished(task.id, 30_000);
      expect(done).toMatchObject({ status: 'succeeded', result: { task: task.id } });
      expect((await api('GET', `/tasks/${task.id}/attempts`)).items).toHaveLength(1);
    }
    expect(processAlive(runner.process.pid)).toBe(true);
    expect(runner.stderr()).toMatch(/retry in \d+ ms/);
  });
});
