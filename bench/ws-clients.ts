/**
 * WebSocket load generator, in its own process, driven over IPC by the orchestrator
 * (bench/lib/ws-protocol.ts): opens and holds N sockets, and measures broadcast latency.
 *
 * Latency uses ONE clock, this process's `performance.now()`: for each write, this process takes
 * the time just before it sends the HTTP write that triggers the event (a PATCH of a project for
 * the service, `POST /broadcast` for the raw `ws` baseline), and each socket takes its receipt
 * time as the first thing its `message` handler does. Writes are sent one at a time; the next
 * one waits until every socket received the previous frame (or the per-write timeout passed).
 * `write` commands add recorded writes to a series, `summary` returns its percentiles and resets
 * it, so the orchestrator can interleave writes of two client processes (service and baseline).
 * A frame is attributed to a write by a unique marker it carries (the PATCHed description, or
 * the baseline frame's body), checked with `Buffer.includes` (no JSON parsing on the hot path).
 */
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { announceReady } from './lib/ready.js';
import { SampleBuffer, summarize } from './lib/stats.js';
import type {
  BroadcastReply,
  ClientCommand,
  ClientReply,
  CloseReply,
  OpenReply,
  Trigger,
  WriteReply,
} from './lib/ws-protocol.js';

interface Slot {
  socket: WebSocket;
  /** Seq of the last write this socket received (avoids double counting). */
  seen: number;
}

const slots: Slot[] = [];
const nonce = Math.random().toString(36).slice(2, 8);

/** The write in flight: its marker, send time and receipts. */
interface Pending {
  seq: number;
  marker: Buffer;
  sentAt: number;
  receipts: Float64Array;
  received: number;
  expected: number;
  frameBytes: number;
  done: () => void;
}
let pending: Pending | undefined;
let unexpectedCloses = 0;

function onFrame(slot: Slot, data: WebSocket.RawData): void {
  const at = performance.now();
  const write = pending;
  if (
    write === undefined ||
    slot.seen === write.seq ||
    !Buffer.isBuffer(data) ||
    !data.includes(write.marker)
  )
    return;
  slot.seen = write.seq;
  if (write.frameBytes === 0) write.frameBytes = data.length;
  write.receipts[write.received++] = at;
  if (write.received === write.expected) write.done();
}

function openOne(url: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      headers,
    });
    const slot: Slot = { socket, seen: -1 };
    let welcomed = false;
    const timer = setTimeout(() => fail(new Error(`no WELCOME within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.terminate();
      reject(error);
    };
    socket.on('error', (error) => {
      if (!welcomed) fail(error);
    });
    socket.on('close', () => {
      if (welcomed) unexpectedCloses += 1;
    });
    socket.on('message', (data) => {
      if (welcomed) return onFrame(slot, data);
      welcomed = true; // the first frame of both servers is their WELCOME
      clearTimeout(timer);
      slots.push(slot);
      resolve();
    });
  });
}

async function open(command: Extract<ClientCommand, { cmd: 'open' }>): Promise<OpenReply> {
  const started = performance.now();
  const deadline = Date.now() + command.timeoutMs;
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < command.count && Date.now() < deadline) {
      next += 1;
      try {
        await openOne(
          command.url,
          command.headers,
          Math.max(1_000, Math.min(30_000, deadline - Date.now())),
        );
        opened += 1;
      } catch (error) {
        failed += 1;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(command.concurrency, command.count) }, worker));
  return {
    cmd: 'open',
    opened,
    failed,
    total: slots.length,
    ms: performance.now() - started,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** Sends one HTTP write; resolves with the time its response completed. */
function send(trigger: Trigger, url: URL, method: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent,
        headers: {
          ...trigger.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: 30_000,
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const at = performance.now();
          if (response.statusCode !== 200)
            reject(
              new Error(
                `${method} ${url.pathname} answered ${response.statusCode} (${trigger.kind})`,
              ),
            );
          else resolve(at);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('write timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A baseline frame carrying `marker`, padded to exactly `bytes` bytes (when bytes allows). */
function baselineFrame(seq: number, marker: string, bytes: number): string {
  const envelope = (pad: string) =>
    JSON.stringify({
      id: seq,
      type: 'PROJECT_UPDATE',
      topic: 'project:00000000-0000-4000-8000-000000000000',
      timestamp: new Date().toISOString(),
      data: { marker, pad },
    });
  return envelope('x'.repeat(Math.max(0, bytes - Buffer.byteLength(envelope('')))));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Samples of the writes since the last `summary`. */
interface Series {
  e2e: SampleBuffer;
  spread: SampleBuffer;
  last: number[];
  responses: number[];
  missing: number;
  frameBytes: number;
  writes: number;
}
const newSeries = (): Series => ({
  e2e: new SampleBuffer(1 << 16),
  spread: new SampleBuffer(1 << 16),
  last: [],
  responses: [],
  missing: 0,
  frameBytes: 0,
  writes: 0,
});
let series = newSeries();
let sequence = 0;

/**
 * Sends `count` writes one at a time, each waiting until every socket has its frame (or the
 * timeout).
 */
async function write(command: Extract<ClientCommand, { cmd: 'write' }>): Promise<WriteReply> {
  const { trigger } = command;
  const clients = slots.length;
  let frameBytes = 0;
  const url =
    trigger.kind === 'service'
      ? new URL(`/api/v1/projects/${trigger.projectId}`, trigger.baseUrl)
      : new URL('/broadcast', trigger.baseUrl);
  for (let i = 0; i < command.count; i++) {
    const seq = Date.now() * 1000 + (sequence++ % 1000);
    const marker = `bw:${nonce}:${seq}:`;
    const body =
      trigger.kind === 'service'
        ? JSON.stringify({ description: marker })
        : baselineFrame(seq, marker, trigger.frameBytes);
    const pendingWrite: Pending = {
      seq,
      marker: Buffer.from(marker),
      sentAt: 0,
      receipts: new Float64Array(clients),
      received: 0,
      expected: clients,
      frameBytes: 0,
      done: () => undefined,
    };
    let timer: NodeJS.Timeout | undefined;
    const allReceived = new Promise<void>((resolve) => {
      pendingWrite.done = resolve;
      timer = setTimeout(resolve, command.timeoutPerWriteMs);
    });
    pending = pendingWrite;
    pendingWrite.sentAt = performance.now();
    const respondedAt = await send(
      trigger,
      url,
      trigger.kind === 'service' ? 'PATCH' : 'POST',
      body,
    );
    if (clients > 0) await allReceived;
    clearTimeout(timer);
    pending = undefined;
    frameBytes = Math.max(frameBytes, pendingWrite.frameBytes);
    if (command.record) record(pendingWrite, respondedAt, clients);
    await sleep(command.gapMs);
  }
  return { cmd: 'write', written: command.count, frameBytes };
}

function record(done: Pending, respondedAt: number, clients: number): void {
  series.writes += 1;
  series.missing += clients - done.received;
  series.frameBytes = Math.max(series.frameBytes, done.frameBytes);
  series.responses.push(respondedAt - done.sentAt);
  const receipts = done.receipts.subarray(0, done.received);
  let first = Number.POSITIVE_INFINITY;
  let lastAt = Number.NEGATIVE_INFINITY;
  for (const at of receipts) {
    first = Math.min(first, at);
    lastAt = Math.max(lastAt, at);
  }
  for (const at of receipts) {
    series.e2e.push(at - done.sentAt);
    series.spread.push(at - first);
  }
  if (receipts.length > 0) series.last.push(lastAt - done.sentAt);
}

/** Summarizes the recorded writes since the last summary, and starts a new series. */
function summary(): BroadcastReply {
  const done = series;
  series = newSeries();
  return {
    cmd: 'summary',
    clients: slots.length,
    writes: done.writes,
    frameBytes: done.frameBytes,
    e2e: summarize(done.e2e.values()),
    lastReceipt: summarize(done.last),
    spread: summarize(done.spread.values()),
    response: summarize(done.responses),
    missing: done.missing,
    unexpectedCloses,
  };
}

async function closeAll(timeoutMs: number): Promise<CloseReply> {
  const started = performance.now();
  const closing = slots.splice(0).map(
    (slot) =>
      new Promise<void>((resolve) => {
        if (slot.socket.readyState === WebSocket.CLOSED) return resolve();
        slot.socket.once('close', () => resolve());
        slot.socket.close(1000, 'benchmark done');
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(closing),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
  unexpectedCloses = 0;
  return { cmd: 'closeAll', closed: closing.length, ms: performance.now() - started };
}

async function handle(command: ClientCommand): Promise<ClientReply> {
  switch (command.cmd) {
    case 'open':
      return open(command);
    case 'write':
      return write(command);
    case 'summary':
      return summary();
    case 'closeAll':
      return closeAll(command.timeoutMs);
  }
}

if (!process.send) {
  process.stderr.write('ws-clients must be started with an IPC channel\n');
  process.exit(1);
}
process.on('message', (command: ClientCommand) => {
  handle(command)
    .then((reply) => process.send!(reply))
    .catch((error: unknown) =>
      process.send!({
        cmd: 'error',
        message: (error as Error)?.stack ?? String(error),
      } satisfies ClientReply),
    );
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  for (const slot of slots) slot.socket.terminate();
  process.exit(0);
});
announceReady({ pid: process.pid });
