/**
 * WebSocket: the service's /ws vs a raw `ws` fan-out server (bench/baseline-ws.ts), with every
 * client socket in one separate client process (bench/ws-clients.ts) that also sends the writes,
 * so send and receipt times come from one clock.
 *
 * Both servers (fresh processes) and two client processes (one per side) run for the whole suite;
 * only one side is active at a time, and the recorded writes alternate side by side, so foreign
 * load on the machine hits both alike:
 *  1. (c) one socket per side; writes 20 ms apart → write→receive p50/p99;
 *  2. full GC + pause, memory before (VmRSS of each server process, and the JS heap it reports);
 *  3. for each fan-out size: open sockets up to that size on each side; at the "held" size, full
 *     GC + pause and memory after → (a) KiB per connection = (after − before) / (held − 1);
 *     then (b) the writes, each waiting for every socket of its side.
 * The baseline's frames have the size of the service's event frame (measured in its warm-up).
 *
 * Ratios are "service relative to baseline", 1.00× = as good. (b) is judged on the fan-out:
 * receipt − the first receipt of the same write, p99 over every (write, client) pair, baseline ÷
 * service, target ≥ 0.80× (the service fans out at most 1.25× slower than raw ws). Write→receive
 * latency (receipt − send, which for the service includes its PATCH: a database transaction) is
 * reported beside it. Memory (reported): baseline ÷ service JS-heap KiB per connection; VmRSS
 * per connection is shown too.
 */
import { type Child, openFileLimit, readRssKiB, readyPort } from '../lib/child.js';
import { type BenchContext, type Suite, sleep, withChildren } from '../lib/context.js';
import { MEMORY_MARKER } from '../lib/ready.js';
import { type CaseResult, fmt, makeCase } from '../lib/results.js';
import type {
  BroadcastReply,
  ClientCommand,
  ClientReply,
  OpenReply,
  Trigger,
  WriteReply,
} from '../lib/ws-protocol.js';

interface Plan {
  single: { writes: number; warmup: number };
  fanouts: Array<{ clients: number; writes: number; warmup: number; gapMs: number }>;
  heldClients: number;
}

/**
 * Server memory after a full GC: VmRSS (read after a pause) and the V8 heap + external memory it
 * reported.
 */
interface MemoryReading {
  rssKiB: number;
  heapKiB: number;
}

interface SideResult {
  single: BroadcastReply;
  fanouts: BroadcastReply[];
  before: MemoryReading;
  after: MemoryReading;
  heldClients: number;
  openMs: number;
  frameBytes: number;
}

const OPEN_CONCURRENCY = 200;
const TIMEOUT_PER_WRITE_MS = 15_000;

/** Sends one command to a client process and waits for its reply (bounded). */
function ask<T extends ClientReply>(
  clients: Child,
  command: ClientCommand,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: ClientReply) => {
      cleanup();
      if (reply.cmd === 'error') reject(new Error(`${clients.name}: ${reply.message}`));
      else resolve(reply as T);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`${clients.name} exited during ${command.cmd}:\n${clients.logTail()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${clients.name}: no answer to ${command.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      clients.process.off('message', onMessage);
      clients.process.off('exit', onExit);
    };
    clients.process.on('message', onMessage);
    clients.process.once('exit', onExit);
    clients.process.send(command);
  });
}

/**
 * Full GC in the server (SIGUSR2 under --expose-gc; it answers with a MEMORY line), a pause, then
 * its VmRSS.
 */
async function settledMemory(server: Child, settleMs: number): Promise<MemoryReading> {
  const reported = server.nextLine(MEMORY_MARKER, 15_000);
  process.kill(server.pid, 'SIGUSR2');
  const usage = JSON.parse(await reported) as { heapUsed: number; external: number };
  await sleep(settleMs);
  return { rssKiB: readRssKiB(server.pid), heapKiB: (usage.heapUsed + usage.external) / 1024 };
}

/** One side of the comparison: its server, its client process, and how to make it broadcast. */
class Side {
  open = 0;
  openMs = 0;

  constructor(
    readonly name: 'service' | 'baseline',
    readonly server: Child,
    readonly clients: Child,
    public trigger: Trigger,
    private readonly log: (message: string) => void,
    private readonly headers: Record<string, string>,
  ) {}

  async openUpTo(count: number): Promise<void> {
    const timeoutMs = 60_000 + count * 20;
    const url = `ws://127.0.0.1:${readyPort(this.server)}/ws`;
    const command: ClientCommand = {
      cmd: 'open',
      url,
      headers: this.headers,
      count: count - this.open,
      concurrency: OPEN_CONCURRENCY,
      timeoutMs,
    };
    const reply = await ask<OpenReply>(this.clients, command, timeoutMs + 10_000);
    if (reply.failed > 0 || reply.total !== count) {
      throw new Error(
        `${this.name}: opened ${reply.total} of ${count} sockets (${reply.failed} failed: ${reply.firstError ?? 'timeout'})`,
      );
    }
    this.log(
      `  ${this.name}: ${count} sockets open (+${reply.opened} in ${(reply.ms / 1000).toFixed(1)} s)`,
    );
    this.openMs += reply.ms;
    this.open = count;
  }

  write(count: number, record: boolean, gapMs: number): Promise<WriteReply> {
    const command: ClientCommand = {
      cmd: 'write',
      trigger: this.trigger,
      count,
      record,
      gapMs,
      timeoutPerWriteMs: TIMEOUT_PER_WRITE_MS,
    };
    return ask<WriteReply>(this.clients, command, count * (TIMEOUT_PER_WRITE_MS + gapMs) + 10_000);
  }

  async summary(): Promise<BroadcastReply> {
    const reply = await ask<BroadcastReply>(this.clients, { cmd: 'summary' }, 30_000);
    if (reply.missing > 0 || reply.unexpectedCloses > 0) {
      throw new Error(
        `${this.name}: ${reply.missing} frames missing, ${reply.unexpectedCloses} sockets closed during a broadcast to ${this.open}`,
      );
    }
    this.log(
      `  ${this.name.padEnd(8)}: ${this.open} clients × ${reply.writes} writes: write→receive p50 ${reply.e2e.p50.toFixed(2)} ms, ` +
        `p99 ${reply.e2e.p99.toFixed(2)} ms, fan-out p99 ${reply.spread.p99.toFixed(2)} ms, write answered p50 ${reply.response.p50.toFixed(2)} ms`,
    );
    return reply;
  }
}

/**
 * Warm-up writes on each side (not recorded), then `writes` recorded writes per side, alternating
 * service and baseline write by write (who goes first alternates too), so both sides see the same
 * machine conditions; returns both summaries.
 */
async function interleaved(
  sides: readonly [Side, Side],
  writes: number,
  warmup: number,
  gapMs: number,
): Promise<[BroadcastReply, BroadcastReply]> {
  for (const side of sides) await side.write(warmup, false, gapMs);
  for (let i = 0; i < writes; i++) {
    const order = i % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
    for (const side of order) await side.write(1, true, gapMs);
  }
  return [await sides[0].summary(), await sides[1].summary()];
}

async function measure(
  context: BenchContext,
  plan: Plan,
  fileLimit: number | undefined,
): Promise<{ service: SideResult; baseline: SideResult }> {
  return withChildren(async (track) => {
    const limits = fileLimit === undefined ? {} : { fileLimit };
    const serviceServer = track(
      await context.startService({}, { nodeFlags: ['--expose-gc'], ...limits }),
    );
    const baselineServer = track(
      await context.startScript('baseline-ws', 'baseline-ws.ts', {
        nodeFlags: ['--expose-gc'],
        ...limits,
      }),
    );
    const serviceClients = track(
      await context.startScript('ws-clients-service', 'ws-clients.ts', { ipc: true, ...limits }),
    );
    const baselineClients = track(
      await context.startScript('ws-clients-baseline', 'ws-clients.ts', { ipc: true, ...limits }),
    );
    const http = (server: Child) => `http://127.0.0.1:${readyPort(server)}`;
    const service = new Side(
      'service',
      serviceServer,
      serviceClients,
      {
        kind: 'service',
        baseUrl: http(serviceServer),
        projectId: context.projectIds[0]!,
        headers: context.headers,
      },
      context.log,
      context.headers,
    );
    const baseline = new Side(
      'baseline',
      baselineServer,
      baselineClients,
      {
        kind: 'baseline',
        baseUrl: http(baselineServer),
        frameBytes: 0,
        headers: context.headers,
      },
      context.log,
      context.headers,
    );
    const sides = [service, baseline] as const;

    for (const side of sides) await side.openUpTo(1);
    // The service's event frame size, for the baseline's frames.
    const { frameBytes } = await service.write(plan.single.warmup, false, 20);
    if (frameBytes === 0) throw new Error('service: no event frame received');
    baseline.trigger = { ...baseline.trigger, frameBytes } as Trigger;
    context.log(
      `websocket: 1 client, ${plan.single.writes} writes per side, interleaved (${frameBytes}-byte frames)`,
    );
    const single = await interleaved(sides, plan.single.writes, plan.single.warmup, 20);

    const before = [
      await settledMemory(serviceServer, 1_000),
      await settledMemory(baselineServer, 1_000),
    ];
    const after: MemoryReading[] = [];
    const fanouts: Array<[BroadcastReply, BroadcastReply]> = [];
    for (const fanout of plan.fanouts) {
      context.log(
        `websocket: ${fmt(fanout.clients)} clients, ${fanout.writes} writes per side, interleaved`,
      );
      for (const side of sides) await side.openUpTo(fanout.clients);
      if (fanout.clients === plan.heldClients)
        after.push(
          await settledMemory(serviceServer, 2_000),
          await settledMemory(baselineServer, 2_000),
        );
      fanouts.push(await interleaved(sides, fanout.writes, fanout.warmup, fanout.gapMs));
    }
    for (const side of sides)
      await ask(side.clients, { cmd: 'closeAll', timeoutMs: 30_000 }, 40_000);
    const result = (index: 0 | 1): SideResult => ({
      single: single[index],
      fanouts: fanouts.map((pair) => pair[index]),
      before: before[index]!,
      after: after[index] ?? { rssKiB: Number.NaN, heapKiB: Number.NaN },
      heldClients: plan.heldClients,
      openMs: sides[index].openMs,
      frameBytes,
    });
    return { service: result(0), baseline: result(1) };
  });
}

function latencyFigures(reply: BroadcastReply): Record<string, number> {
  return {
    clients: reply.clients,
    writes: reply.writes,
    frame_bytes: reply.frameBytes,
    p50_ms: reply.e2e.p50,
    p90_ms: reply.e2e.p90,
    p99_ms: reply.e2e.p99,
    max_ms: reply.e2e.max,
    last_client_p50_ms: reply.lastReceipt.p50,
    last_client_p99_ms: reply.lastReceipt.p99,
    spread_p50_ms: reply.spread.p50,
    spread_p99_ms: reply.spread.p99,
    write_response_p50_ms: reply.response.p50,
    write_response_p99_ms: reply.response.p99,
  };
}

function fanoutDisplay(reply: BroadcastReply): string {
  return `fan-out p99 ${reply.spread.p99.toFixed(1)} ms · write→receive p50 ${reply.e2e.p50.toFixed(1)} / p99 ${reply.e2e.p99.toFixed(1)} ms`;
}

function singleDisplay(reply: BroadcastReply): string {
  return `p50 ${reply.e2e.p50.toFixed(2)} ms · p99 ${reply.e2e.p99.toFixed(2)} ms (write answered p50 ${reply.response.p50.toFixed(2)} ms)`;
}

function memoryFigures(result: SideResult): Record<string, number> {
  const connections = result.heldClients - 1; // one socket was already open at the "before" reading
  return {
    connections: result.heldClients,
    rss_before_kib: result.before.rssKiB,
    rss_after_kib: result.after.rssKiB,
    kib_per_connection: (result.after.rssKiB - result.before.rssKiB) / connections,
    heap_before_kib: result.before.heapKiB,
    heap_after_kib: result.after.heapKiB,
    heap_kib_per_connection: (result.after.heapKiB - result.before.heapKiB) / connections,
    open_all_ms: result.openMs,
  };
}

function memoryDisplay(figures: Record<string, number>): string {
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  return (
    `RSS ${figures.kib_per_connection!.toFixed(1)} KiB/conn (${mib(figures.rss_before_kib!)} → ${mib(figures.rss_after_kib!)} MiB); ` +
    `JS heap ${figures.heap_kib_per_connection!.toFixed(1)} KiB/conn`
  );
}

export const websocketSuite: Suite = async (context) => {
  const plan: Plan = context.quick
    ? {
        single: { writes: 30, warmup: 5 },
        fanouts: [{ clients: 1_000, writes: 40, warmup: 3, gapMs: 30 }],
        heldClients: 1_000,
      }
    : {
        single: { writes: 100, warmup: 5 },
        fanouts: [
          { clients: 1_000, writes: 60, warmup: 3, gapMs: 30 },
          { clients: 10_000, writes: 30, warmup: 2, gapMs: 100 },
        ],
        heldClients: 10_000,
      };
  // Each socket is one descriptor in the client process and one in the server process.
  const needed = plan.heldClients + 2_000;
  const limit = openFileLimit();
  if (limit.hard < needed)
    throw new Error(
      `the open-file hard limit (${limit.hard}) is below the ${needed} descriptors ${plan.heldClients} sockets need per process`,
    );
  const fileLimit = limit.soft < needed ? Math.min(limit.hard, 65_536) : undefined;
  const { service, baseline } = await measure(context, plan, fileLimit);

  const cases: CaseResult[] = [];
  const serviceMemory = memoryFigures(service);
  const baselineMemory = memoryFigures(baseline);
  cases.push(
    makeCase({
      id: 'connections-held',
      title: `${fmt(plan.heldClients)} connections held: server memory`,
      service: serviceMemory,
      baseline: baselineMemory,
      ratio: baselineMemory.heap_kib_per_connection! / serviceMemory.heap_kib_per_connection!,
      ratioDefinition:
        'baseline JS heap KiB per connection ÷ service JS heap KiB per connection (heapUsed + external after a full GC). ' +
        'RSS per connection (VmRSS after − before) is reported beside it but not used: RSS grows into pages the process already ' +
        'holds (the service starts at ~200 MiB), so it understates the service',
      target: null,
      display: { service: memoryDisplay(serviceMemory), baseline: memoryDisplay(baselineMemory) },
    }),
  );
  plan.fanouts.forEach((fanout, index) => {
    const [s, b] = [service.fanouts[index]!, baseline.fanouts[index]!];
    cases.push(
      makeCase({
        id: `broadcast-${fanout.clients}`,
        title: `Broadcast to ${fmt(fanout.clients)} clients`,
        service: { ...latencyFigures(s), e2e_ratio: b.e2e.p99 / s.e2e.p99 },
        baseline: latencyFigures(b),
        ratio: b.spread.p99 / s.spread.p99,
        ratioDefinition:
          'baseline fan-out p99 ÷ service fan-out p99, where fan-out = receipt − first receipt of the same write, over every (write, client) ' +
          'pair; write→receive (receipt − send) is reported beside it and its p99 ratio is service.e2e_ratio',
        target: { on: 'ratio', op: '>=', value: 0.8, text: '≥ 0.80× (fan-out p99 ≤ 1.25× raw ws)' },
        display: { service: fanoutDisplay(s), baseline: fanoutDisplay(b) },
      }),
    );
  });
  cases.push(
    makeCase({
      id: 'single-client',
      title: '1 subscribed client, light load: write → receive',
      service: latencyFigures(service.single),
      baseline: latencyFigures(baseline.single),
      ratio: baseline.single.e2e.p99 / service.single.e2e.p99,
      ratioDefinition:
        'baseline p99 ÷ service p99 (the service figure includes its PATCH: a database transaction)',
      target: null,
      display: { service: singleDisplay(service.single), baseline: singleDisplay(baseline.single) },
    }),
  );
  return {
    name: 'websocket',
    title: 'WebSocket /ws vs raw ws fan-out',
    settings: {
      plan,
      openConcurrency: OPEN_CONCURRENCY,
      heartbeatMs: 600_000,
      frameBytes: service.frameBytes,
      fileLimits: { ...limit, raisedTo: fileLimit ?? null },
    },
    cases,
  };
};
