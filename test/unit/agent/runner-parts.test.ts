import { describe, expect, it } from 'vitest';
import { backoffDelay, isTransient, retrying, sleep } from '../../../src/agent/backoff.js';
import type { CommandOutcome } from '../../../src/agent/child.js';
import { UsageError, parseOptions } from '../../../src/agent/options.js';
import { failureOf, inputText, progressOf, resultOf } from '../../../src/agent/task-run.js';
import { ApiError } from '../../../src/client/rest-client.js';

const base = ['--url', 'http://127.0.0.1:3000/x', '--name', 'n', '--type', 'coder'];

function apiError(status: number): ApiError {
  return new ApiError({ type: 'about:blank', title: 'T', status, detail: 'd' });
}

function outcome(fields: Partial<CommandOutcome>): CommandOutcome {
  const empty = { stdoutTail: '', stderrTail: '', lastLine: null, signal: null };
  return { code: 0, killedFor: null, ...empty, ...fields };
}

describe('the command line', () => {
  it('reads every option, with the key from the environment by default', () => {
    const options = parseOptions(
      [...base, '--command', 'true', '--capabilities', 'a,,b', '--concurrency', '4'],
      { SWARM_API_KEY: 'sc_k' },
    );
    expect(options).toMatchObject({
      url: 'http://127.0.0.1:3000',
      key: 'sc_k',
      capabilities: ['a', 'b'],
      concurrency: 4,
      project: null,
      graceMs: 30_000,
      waitMs: 20_000,
    });
  });

  it('refuses what it cannot run, saying which option', () => {
    const refused = (argv: string[]) => {
      try {
        parseOptions(argv, {});
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refused(base)).toBe('--command is required');
    expect(refused([...base, '--command', 'x', '--type', 'wizard'])).toMatch(/^--type must be/);
    expect(refused([...base, '--command', 'x', '--concurrency', '0'])).toBe(
      '--concurrency must be 1…256',
    );
    expect(refused([...base, '--command', 'x', '--wait-ms', '60000'])).toBe(
      '--wait-ms must be 0…30000',
    );
    expect(refused([...base, '--command', 'x', '--bogus'])).toMatch(/bogus/);
    expect(refused(['--help'])).toBe('');
    expect(refused(['--url', 'not a url', '--name', 'n', '--type', 'coder'])).toMatch(/URL/);
  });
});

describe('retries', () => {
  it('waits a random share of a capped exponential', () => {
    const policy = { baseMs: 100, maxMs: 1_000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 50].map((attempt) => backoffDelay(attempt, policy))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
  });

  it('retries only what may pass: no answer, 429 and 5xx', async () => {
    expect(isTransient(new TypeError('fetch failed'))).toBe(true);
    expect([429, 500, 503].map((status) => isTransient(apiError(status)))).toEqual([
      true,
      true,
      true,
    ]);
    expect(isTransient(apiError(409))).toBe(false);
    let calls = 0;
    const delays: number[] = [];
    const value = await retrying(
      async () => {
        calls += 1;
        if (calls < 3) throw apiError(503);
        return 'done';
      },
      { policy: { baseMs: 1, maxMs: 2 }, onRetry: (_error, delay) => delays.push(delay) },
    );
    expect([value, calls, delays.length]).toEqual(['done', 3, 2]);
    await expect(retrying(async () => Promise.reject(apiError(404)))).rejects.toThrow('404');
  });

  it('gives up when aborted, and a sleep ends at the abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    await sleep(10_000, controller.signal);
    const failing = retrying(async () => Promise.reject(new TypeError('down')), {
      signal: controller.signal,
    });
    await expect(failing).rejects.toThrow('down');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('what a command gives and gets', () => {
  it('gives a string input as text and anything else as JSON', () => {
    expect([inputText('a prompt'), inputText({ n: 1 }), inputText(undefined)]).toEqual([
      'a prompt',
      '{"n":1}',
      'null',
    ]);
  });

  it('takes the last line as JSON when it parses, else the end of stdout', () => {
    expect(resultOf(outcome({ lastLine: '{"ok":true}', stdoutTail: 'x\n{"ok":true}\n' }))).toEqual({
      ok: true,
    });
    expect(resultOf(outcome({ lastLine: 'done', stdoutTail: 'step\ndone\n' }))).toBe(
      'step\ndone\n',
    );
  });

  it('reads progress from a JSON line, and any other line as a message', () => {
    expect(progressOf('{"progress":0.4,"message":"compiling"}')).toEqual({
      progress: 0.4,
      message: 'compiling',
    });
    expect(progressOf('{"progress":7}')).toEqual({ message: '{"progress":7}' });
    expect(progressOf('x'.repeat(2_000)).message).toHaveLength(1_024);
  });

  it('fails with stderr, the exit status, a timeout or a shutdown', () => {
    expect(failureOf(outcome({ code: 2, stderrTail: ' boom \n' }), 1, null).error).toBe('boom');
    expect(failureOf(outcome({ code: 2 }), 1, null).error).toBe('exit code 2');
    expect(failureOf(outcome({ code: null, signal: 'SIGSEGV' }), 1, null).error).toBe(
      'killed by SIGSEGV',
    );
    expect(failureOf(outcome({ killedFor: 'timeout' }), 3, 500)).toMatchObject({
      attempt: 3,
      retryable: true,
      error: expect.stringMatching(/^timed out after 500 ms/),
    });
    expect(failureOf(outcome({ killedFor: 'shutdown' }), 1, null).error).toMatch(/shut down/);
  });
});
