import { Badge, Empty, ErrorNote, PageHeading, Pager, FilterSelect } from '../components.js';
import { useApp } from '../context.js';
import { ago, dateTime, duration, percent, shortId } from '../format.js';
import { newer, useCoalesced, useLiveEvents, useLoad, useNow, useRefresh } from '../hooks.js';
import { type Route, href, setQuery } from '../router.js';
import { type Agent, type AgentFigures, type TaskExecution, agentStatuses } from '../types.js';
import { useProjectNames } from './projects.js';

const PAGE = 50;
/** Heartbeats that change no status are not events, so the roster re-reads last-seen times. */
const LIVENESS_REFRESH_MS = 15_000;
const sorts = [
  ['name', 'Name'],
  ['-last_active_at', 'Last heartbeat'],
  ['-created_at', 'Newest'],
] as const;

function AgentRow({
  agent,
  project,
  figures,
  now,
}: {
  agent: Agent;
  project: string | undefined;
  figures: AgentFigures | undefined;
  now: number;
}) {
  const task = figures?.current_task ?? null;
  return (
    <tr class={agent.status === 'offline' ? 'offline' : undefined} data-agent={agent.id}>
      <th scope="row">
        {agent.name}
        <span class="muted"> {shortId(agent.id)}</span>{' '}
        <a
          class="muted"
          href={href('tasks', { agent_id: agent.id })}
          aria-label={`Tasks of ${agent.name}`}
        >
          tasks
        </a>
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
      <td>{task === null ? '—' : <a href={href(`tasks/${task.id}`)}>{task.title}</a>}</td>
      <td>
        {agent.last_active_at === null ? (
          'never'
        ) : (
          <time dateTime={agent.last_active_at} title={dateTime(agent.last_active_at)}>
            {ago(agent.last_active_at, now)}
          </time>
        )}
      </td>
      <td class="number">
        {percent(figures?.success_rate)}
        {figures !== undefined && figures.recent_attempts > 0 && (
          <span class="muted"> of {figures.recent_attempts}</span>
        )}
      </td>
      <td class="number">{duration(figures?.mean_duration_ms)}</td>
    </tr>
  );
}

/**
 * The agent roster: a page of 50 at a time, filtered by status and project. Status changes and
 * heartbeats are applied to the rows in place as they arrive; an agent created or deleted, or a
 * change under a filter, loads the page again. Each row's current task, success rate and mean
 * duration (over its latest 20 attempts) come from `GET /api/v1/stats/agents` for the page's
 * agents, loaded again when one of them claims or ends an attempt.
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
  useRefresh(agents.reload, LIVENESS_REFRESH_MS);
  const projects = useProjectNames();
  const ids = agents.data?.items.map((agent) => agent.id) ?? [];
  const figures = useLoad(
    async () =>
      ids.length === 0 ? new Map<string, AgentFigures>() : byAgent(await api.agentFigures(ids)),
    [ids.join()],
  );
  const reloadFigures = useCoalesced(figures.reload, 300);
  useLiveEvents((event) => {
    if (event.type === 'TASK_EXECUTION') {
      const agentId = (event.data as unknown as TaskExecution).attempt?.agent_id;
      if (agentId !== null && agentId !== undefined && ids.includes(agentId)) reloadFigures();
      return;
    }
    if (event.type === 'AGENT_CREATED' || event.type === 'AGENT_DELETED') return reload();
    if (event.type !== 'AGENT_UPDATE' && event.type !== 'AGENT_STATUS') return;
    const changed = (event.data as { agent: Agent }).agent;
    agents.update((page) => ({
      ...page,
      items: page.items.map((agent) => (agent.id === changed.id ? newer(agent, changed) : agent)),
    }));
    if (filtered || sort !== 'name') reload();
  });
  const page = agents.data;
  return (
    <section>
      <PageHeading>Agents</PageHeading>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <FilterSelect
          id="agent-status"
          label="Status"
          value={status}
          options={agentStatuses.map((item) => [item, item] as const)}
          onChange={(selected) => setQuery(route, { status: selected, offset: undefined })}
        />
        <FilterSelect
          id="agent-project"
          label="Project"
          value={projectId}
          options={[...projects.entries()]}
          onChange={(selected) => setQuery(route, { project_id: selected, offset: undefined })}
        />
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
                    figures={figures.data?.get(agent.id)}
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

function byAgent(list: { items: AgentFigures[] }): Map<string, AgentFigures> {
  return new Map(list.items.map((item) => [item.agent_id, item]));
}
