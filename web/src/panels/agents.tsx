import { useMemo } from 'preact/hooks';
import { Badge, Empty, ErrorNote, PageHeading, Pager } from '../components.js';
import { useApp } from '../context.js';
import { ago, dateTime, duration, percent, shortId } from '../format.js';
import { newer, useCoalesced, useLiveEvents, useLoad, useNow } from '../hooks.js';
import { type Route, href, setQuery } from '../router.js';
import { type Agent, type Task, agentStatuses } from '../types.js';
import { useProjectNames } from './projects.js';
import { useRunningTasks } from './tasks.js';

const PAGE = 50;
const sorts = [
  ['name', 'Name'],
  ['-last_active_at', 'Last heartbeat'],
  ['-created_at', 'Newest'],
] as const;

/** Per-agent figures over recent attempts, once the service reports them. */
interface AgentPerformance {
  success_rate: number | null;
  mean_duration_ms: number | null;
}

function AgentRow({
  agent,
  project,
  task,
  performance,
  now,
}: {
  agent: Agent;
  project: string | undefined;
  task: Task | undefined;
  performance: AgentPerformance | undefined;
  now: number;
}) {
  return (
    <tr class={agent.status === 'offline' ? 'offline' : undefined} data-agent={agent.id}>
      <th scope="row">
        {agent.name}
        <span class="muted"> {shortId(agent.id)}</span>
      </th>
      <td>{agent.agent_type}</td>
      <td>
        <Badge value={agent.status} />
      </td>
      <td>
        {agent.project_id === null ? (
          '—'
        ) : (
          <a href={href(`projects/${agent.project_id}`)}>{project ?? shortId(agent.project_id)}</a>
        )}
      </td>
      <td>{task === undefined ? '—' : <a href={href(`tasks/${task.id}`)}>{task.title}</a>}</td>
      <td>
        {agent.last_active_at === null ? (
          'never'
        ) : (
          <time dateTime={agent.last_active_at} title={dateTime(agent.last_active_at)}>
            {ago(agent.last_active_at, now)}
          </time>
        )}
      </td>
      <td class="number">{percent(performance?.success_rate)}</td>
      <td class="number">{duration(performance?.mean_duration_ms)}</td>
    </tr>
  );
}

/**
 * The agent roster: a page of 50 at a time, filtered by status, type and project. Status changes
 * and heartbeats are applied to the rows in place as they arrive; an agent created or deleted,
 * or a change under a filter, loads the page again.
 */
export function AgentsPanel({ route }: { route: Route }) {
  const { api } = useApp();
  const now = useNow();
  const status = route.query.get('status') ?? '';
  const projectId = route.query.get('project_id') ?? '';
  const sort = route.query.get('sort') ?? 'name';
  const offset = Number(route.query.get('offset') ?? 0) || 0;
  const filtered = status !== '' || projectId !== '';
  const agents = useLoad(
    () =>
      api.client.agents.list({
        limit: PAGE,
        offset,
        sort: sort as 'name',
        status: status === '' ? undefined : [status as Agent['status']],
        project_id: projectId === '' ? undefined : projectId,
      }),
    [status, projectId, sort, offset],
  );
  const reload = useCoalesced(agents.reload, 300);
  const projects = useProjectNames();
  const running = useRunningTasks();
  useLiveEvents((event) => {
    if (event.type === 'AGENT_CREATED' || event.type === 'AGENT_DELETED') return reload();
    if (event.type !== 'AGENT_UPDATE' && event.type !== 'AGENT_STATUS') return;
    const changed = (event.data as { agent: Agent }).agent;
    agents.update((page) => ({
      ...page,
      items: page.items.map((agent) => (agent.id === changed.id ? newer(agent, changed) : agent)),
    }));
    if (filtered || sort !== 'name') reload();
  });
  const byAgent = useMemo(() => {
    const map = new Map<string, Task>();
    for (const task of running.tasks) if (task.agent_id !== null) map.set(task.agent_id, task);
    return map;
  }, [running.tasks]);
  const page = agents.data;
  return (
    <section>
      <PageHeading>Agents</PageHeading>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="agent-status">Status</label>
          <select
            id="agent-status"
            value={status}
            onChange={(event) =>
              setQuery(route, { status: event.currentTarget.value, offset: undefined })
            }
          >
            <option value="">Any</option>
            {agentStatuses.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="agent-project">Project</label>
          <select
            id="agent-project"
            value={projectId}
            onChange={(event) =>
              setQuery(route, { project_id: event.currentTarget.value, offset: undefined })
            }
          >
            <option value="">Any</option>
            {[...projects.entries()].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="agent-sort">Order</label>
          <select
            id="agent-sort"
            value={sort}
            onChange={(event) => setQuery(route, { sort: event.currentTarget.value })}
          >
            {sorts.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </form>
      <ErrorNote error={agents.error} />
      {page !== undefined &&
        (page.items.length === 0 ? (
          <Empty>No agent matches.</Empty>
        ) : (
          <>
            <table class="list agents">
              <caption class="visually-hidden">Agents, {page.total} in all</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Project</th>
                  <th scope="col">Current task</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Success rate</th>
                  <th scope="col">Mean duration</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((agent) => (
                  <AgentRow
                    key={agent.id}
                    agent={agent}
                    project={agent.project_id === null ? undefined : projects.get(agent.project_id)}
                    task={byAgent.get(agent.id)}
                    performance={undefined}
                    now={now}
                  />
                ))}
              </tbody>
            </table>
            <Pager
              label="Agent pages"
              offset={offset}
              limit={PAGE}
              total={page.total}
              onOffset={(next) => setQuery(route, { offset: String(next) })}
            />
          </>
        ))}
    </section>
  );
}
