import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  type FieldErrors,
  FormError,
  PageHeading,
  Pager,
  fieldErrors,
  FilterSelect,
} from '../components.js';
import { allowed, useApp } from '../context.js';
import { ago } from '../format.js';
import { newer, useCoalesced, useLiveEvents, useLoad, useNow } from '../hooks.js';
import { type Route, href, setQuery } from '../router.js';
import { type Agent, type Project, projectStatuses } from '../types.js';
import { ScheduleList } from './schedules.js';
import { TaskList } from './tasks.js';

const PAGE = 20;

/**
 * Names of the first 100 projects by name, for filters and links; kept current by project
 * events. Past 100 projects a link shows the id's first characters instead of the name.
 */
export function useProjectNames(): Map<string, string> {
  const { api } = useApp();
  const names = useLoad(async () => {
    const page = await api.client.projects.list({ limit: 100, sort: 'name' });
    return new Map(page.items.map((project) => [project.id, project.name]));
  }, []);
  const reload = useCoalesced(names.reload, 500);
  useLiveEvents((event) => event.type.startsWith('PROJECT_') && reload());
  return names.data ?? new Map<string, string>();
}

function NewProject({ onCreated }: { onCreated: (project: Project) => void }) {
  const { api } = useApp();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [errors, setErrors] = useState<FieldErrors>({});
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const project = await api.client.projects.create({
        name,
        description: description === '' ? null : description,
      });
      setName('');
      setDescription('');
      setError(undefined);
      setErrors({});
      onCreated(project);
    } catch (failure) {
      setError(failure);
      setErrors(fieldErrors(failure));
    }
  };
  return (
    <form
      class="inline-form"
      aria-labelledby="new-project"
      onSubmit={(event) => void submit(event)}
    >
      <h2 id="new-project">New project</h2>
      <FormError error={error} errors={errors} />
      <Field id="project-name" label="Name" pointer="/name" errors={errors}>
        {(props) => (
          <input
            {...props}
            required
            maxLength={255}
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        )}
      </Field>
      <Field id="project-description" label="Description" pointer="/description" errors={errors}>
        {(props) => (
          <input
            {...props}
            value={description}
            onInput={(event) => setDescription(event.currentTarget.value)}
          />
        )}
      </Field>
      <button type="submit">Create project</button>
    </form>
  );
}

/**
 * Projects, 20 to a page, filtered by status and text; live: rows change in place, new ones reload.
 */
export function ProjectsPanel({ route }: { route: Route }) {
  const { api, caller } = useApp();
  const now = useNow();
  const status = route.query.get('status') ?? '';
  const q = route.query.get('q') ?? '';
  const offset = Number(route.query.get('offset') ?? 0) || 0;
  const projects = useLoad(
    () =>
      api.client.projects.list({
        limit: PAGE,
        offset,
        sort: 'name',
        status: status === '' ? undefined : [status as Project['status']],
        q: q === '' ? undefined : q,
      }),
    [status, q, offset],
  );
  const reload = useCoalesced(projects.reload, 300);
  useLiveEvents((event) => {
    if (event.type === 'PROJECT_CREATED' || event.type === 'PROJECT_DELETED') return reload();
    if (event.type !== 'PROJECT_UPDATE') return;
    const changed = (event.data as { project: Project }).project;
    projects.update((page) => ({
      ...page,
      items: page.items.map((item) => (item.id === changed.id ? newer(item, changed) : item)),
    }));
    if (status !== '' || q !== '') reload();
  });
  const [search, setSearch] = useState(q);
  return (
    <section>
      <PageHeading>Projects</PageHeading>
      <form
        class="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setQuery(route, { q: search, offset: undefined });
        }}
      >
        <FilterSelect
          id="project-status"
          label="Status"
          value={status}
          options={projectStatuses.map((item) => [item, item] as const)}
          onChange={(selected) => setQuery(route, { status: selected, offset: undefined })}
        />
        <div class="field">
          <label for="project-q">Name or description contains</label>
          <input
            id="project-q"
            type="search"
            value={search}
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={projects.error} />
      {projects.data !== undefined &&
        (projects.data.items.length === 0 ? (
          <Empty>No project matches.</Empty>
        ) : (
          <>
            <table class="list">
              <caption class="visually-hidden">Projects</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {projects.data.items.map((project) => (
                  <tr key={project.id} data-project={project.id}>
                    <th scope="row">
                      <a href={href(`projects/${project.id}`)}>{project.name}</a>
                    </th>
                    <td>
                      <Badge value={project.status} />
                    </td>
                    <td>{project.sparc_mode}</td>
                    <td>
                      <time dateTime={project.updated_at}>{ago(project.updated_at, now)}</time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager
              label="Project pages"
              offset={offset}
              limit={PAGE}
              total={projects.data.total}
              onOffset={(next) => setQuery(route, { offset: String(next) })}
            />
          </>
        ))}
      {allowed(caller, 'write') && (
        <NewProject onCreated={(project) => (location.hash = href(`projects/${project.id}`))} />
      )}
    </section>
  );
}

function StatusChange({ project }: { project: Project }) {
  const { api } = useApp();
  const [error, setError] = useState<unknown>(undefined);
  const change = async (status: Project['status']) => {
    try {
      await api.client.projects.patch(project.id, { status }, { ifMatch: project.version });
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div class="actions">
      {projectStatuses
        .filter((status) => status !== project.status)
        .map((status) => (
          <button key={status} type="button" onClick={() => void change(status)}>
            Mark {status}
          </button>
        ))}
      <ErrorNote
        error={
          error instanceof ApiError && error.status === 412
            ? new Error('Someone changed this project meanwhile; the page now shows their change.')
            : error
        }
      />
    </div>
  );
}

/** One project: its fields, its agents, its tasks and its schedules, all live. */
export function ProjectDetail({ id }: { id: string }) {
  const { api, caller } = useApp();
  const now = useNow();
  const project = useLoad(() => api.client.projects.get(id), [id]);
  const agents = useLoad(
    () => api.client.agents.list({ project_id: id, limit: 100, sort: 'name' }),
    [id],
  );
  const reloadAgents = useCoalesced(agents.reload, 300);
  useLiveEvents((event) => {
    if (event.topic === `project:${id}` && event.type === 'PROJECT_UPDATE') {
      const changed = (event.data as { project: Project }).project;
      project.update((current) => newer(current, changed));
    } else if (event.type === 'PROJECT_DELETED' && (event.data as { id: string }).id === id) {
      project.reload();
    } else if (event.type.startsWith('AGENT_')) {
      const agent = (event.data as { agent?: Agent }).agent;
      if (agent?.project_id === id || event.type === 'AGENT_DELETED') reloadAgents();
      else if (agent !== undefined && agents.data?.items.some((item) => item.id === agent.id))
        reloadAgents();
    }
  });
  const current = project.data;
  return (
    <section>
      <p class="crumbs">
        <a href="#/projects">Projects</a>
      </p>
      <PageHeading>{current?.name ?? 'Project'}</PageHeading>
      <ErrorNote error={project.error} />
      {current !== undefined && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Badge value={current.status} />
            </dd>
            <dt>Mode</dt>
            <dd>{current.sparc_mode}</dd>
            <dt>Description</dt>
            <dd>{current.description ?? '—'}</dd>
            <dt>Version</dt>
            <dd>{current.version}</dd>
            <dt>Updated</dt>
            <dd>{ago(current.updated_at, now)}</dd>
          </dl>
          {allowed(caller, 'write') && <StatusChange project={current} />}
        </>
      )}
      <h2>Agents</h2>
      <ErrorNote error={agents.error} />
      {agents.data !== undefined &&
        (agents.data.items.length === 0 ? (
          <Empty>No agent belongs to this project.</Empty>
        ) : (
          <ul class="chips">
            {agents.data.items.map((agent) => (
              <li key={agent.id} class={agent.status === 'offline' ? 'offline' : undefined}>
                {agent.name} <Badge value={agent.status} />
              </li>
            ))}
            {agents.data.total > agents.data.items.length && (
              <li>
                <a href={href('agents', { project_id: id })}>all {agents.data.total} agents</a>
              </li>
            )}
          </ul>
        ))}
      <h2>Tasks</h2>
      <TaskList projectId={id} />
      <h2>Schedules</h2>
      <ScheduleList projectId={id} />
    </section>
  );
}
