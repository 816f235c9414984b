/**
 * MCP: claim → complete cycles through `/mcp` tool calls (the official SDK client over
 * Streamable HTTP: `claim_task`, then `complete_task`) vs the same cycles through REST
 * (`POST /tasks/claim`, then `POST /tasks/{id}/complete`), against one service, same run.
 *
 * Each run seeds `tasks` tasks in a project of its own (through REST, not measured) and
 * `workers` agents in it, then every worker loops claim (wait_ms 0) → complete until a claim
 * finds nothing; cycles per second = tasks ÷ time to drain. MCP clients connect (initialize)
 * before the clock starts, as an agent does once. The sides alternate in rounds (odd rounds MCP
 * first) and the best run of each side is kept. Ratio = MCP cycles/s ÷ REST cycles/s;
 * target ≥ 0.5× (issue #18). Server CPU per cycle is the steadier figure on a busy machine.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { performance } from 'node:perf_hooks';
import { readCpuMs } from '../lib/child.js';
import { type BenchContext, type Suite, baseUrl, withChildren } from '../lib/context.js';
import { fmt, makeCase } from '../lib/results.js';
import { round } from '../lib/stats.js';

/** MCP cycles per second at least this share of REST's (issue #18). */
export const MCP_TARGET = 0.5;

interface Plan {
  rounds: number;
  tasks: number;
  workers: number;
}

interface Run {
  cyclesPerSec: number;
  serverCpuMsPerCycle: number;
  elapsedMs: number;
}

type Side = 'mcp' | 'rest';

/** Claims one task and completes it; false when no task was left. */
type Cycle = () => Promise<boolean>;

interface Claim {
  task: { id: string } | null;
  attempt: { number: number } | null;
}

function planFor(quick: boolean): Plan {
  return { rounds: quick ? 2 : 3, tasks: quick ? 300 : 800, workers: 8 };
}

function restCall(url: string, headers: Record<string, string>) {
  return async (path: string, body: object): Promise<unknown> => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status === 204) return null;
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
}

async function seed(post: ReturnType<typeof restCall>, plan: Plan, label: string) {
  const project = (await post('/projects', { name: `bench ${label}` })) as { id: string };
  const agentIds: string[] = [];
  for (let index = 0; index < plan.workers; index += 1) {
    const agent = { name: `w${index}`, agent_type: 'coder', project_id: project.id };
    agentIds.push(((await post('/agents', agent)) as { id: string }).id);
  }
  for (let next = 0; next < plan.tasks; next += 20) {
    const batch = Array.from({ length: Math.min(20, plan.tasks - next) }, (_, index) =>
      post('/tasks', { project_id: project.id, title: `t${next + index}` }),
    );
    await Promise.all(batch);
  }
  return agentIds;
}

function restCycle(post: ReturnType<typeof restCall>, agentId: string): Cycle {
  return async () => {
    const claimed = (await post('/tasks/claim', { agent_id: agentId, wait_ms: 0 })) as Claim | null;
    if (claimed?.task == null) return false;
    await post(`/tasks/${claimed.task.id}/complete`, { attempt: claimed.attempt!.number });
    return true;
  };
}

async function toolCall(client: Client, name: string, args: object): Promise<unknown> {
  const result = (await client.callTool({ name, arguments: { ...args } })) as CallToolResult;
  if (result.isError === true) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result.structuredContent;
}

function mcpCycle(client: Client, agentId: string): Cycle {
  return async () => {
    const claimed = (await toolCall(client, 'claim_task', { agent_id: agentId })) as Claim;
    if (claimed.task === null) return false;
    const args = { task_id: claimed.task.id, attempt: claimed.attempt!.number };
    await toolCall(client, 'complete_task', args);
    return true;
  };
}

async function mcpClient(url: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', url), {
    requestInit: { headers },
  });
  await client.connect(transport);
  await client.listTools(); // as an agent does: it learns the tools (and their schemas) once
  return client;
}

async function drain(cycles: Cycle[], tasks: number, pid: number): Promise<Run> {
  const cpuBefore = readCpuMs(pid);
  const started = performance.now();
  let done = 0;
  await Promise.all(
    cycles.map(async (cycle) => {
      while (await cycle()) done += 1;
    }),
  );
  const elapsedMs = performance.now() - started;
  if (done !== tasks) throw new Error(`drained ${done} cycles, expected ${tasks}`);
  return {
    cyclesPerSec: round((done / elapsedMs) * 1000, 1),
    serverCpuMsPerCycle: round((readCpuMs(pid) - cpuBefore) / done, 3),
    elapsedMs: round(elapsedMs, 0),
  };
}

async function measure(context: BenchContext, url: string, pid: number, side: Side, plan: Plan) {
  const post = restCall(url, context.headers);
  const agentIds = await seed(post, plan, `${side} ${performance.now()}`);
  const clients =
    side === 'mcp' ? await Promise.all(agentIds.map(() => mcpClient(url, context.headers))) : [];
  try {
    const cycles = agentIds.map((agentId, index) =>
      side === 'mcp' ? mcpCycle(clients[index]!, agentId) : restCycle(post, agentId),
    );
    return await drain(cycles, plan.tasks, pid);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

function best(runs: Run[]): Run {
  return runs.reduce((a, b) => (b.cyclesPerSec > a.cyclesPerSec ? b : a));
}

function display(run: Run): string {
  return `${fmt(run.cyclesPerSec, 1)} cycles/s, ${fmt(run.serverCpuMsPerCycle, 2)} ms CPU/cycle`;
}

export const mcpSuite: Suite = async (context) => {
  const plan = planFor(context.quick);
  return withChildren(async (track) => {
    const service = track(await context.startService());
    const url = baseUrl(service);
    const runs: Record<Side, Run[]> = { mcp: [], rest: [] };
    for (let roundIndex = 0; roundIndex < plan.rounds; roundIndex += 1) {
      const order: Side[] = roundIndex % 2 === 0 ? ['mcp', 'rest'] : ['rest', 'mcp'];
      for (const side of order) {
        const run = await measure(context, url, service.pid, side, plan);
        context.log(`mcp: round ${roundIndex + 1} ${side}: ${display(run)}`);
        runs[side].push(run);
      }
    }
    const [mcp, rest] = [best(runs.mcp), best(runs.rest)];
    return {
      name: 'mcp',
      title: 'Claim → complete through MCP tool calls vs REST',
      settings: { ...plan, runs },
      cases: [
        makeCase({
          id: 'cycles',
          title: 'claim_task → complete_task vs POST claim → POST complete',
          service: { cycles_per_s: mcp.cyclesPerSec, cpu_ms_per_cycle: mcp.serverCpuMsPerCycle },
          baseline: {
            cycles_per_s: rest.cyclesPerSec,
            cpu_ms_per_cycle: rest.serverCpuMsPerCycle,
          },
          ratio: mcp.cyclesPerSec / rest.cyclesPerSec,
          ratioDefinition: 'MCP cycles/s ÷ REST cycles/s (best run of each side)',
          target: { on: 'ratio', op: '>=', value: MCP_TARGET, text: '≥ 0.50× REST' },
          display: { service: display(mcp), baseline: display(rest) },
        }),
      ],
    };
  });
};
