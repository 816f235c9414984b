import { useEffect, useState } from 'preact/hooks';
import { type TaskInput, type TaskQuery, describeError } from '../api.js';
import {
  Badge,
  Empty,
  ErrorNote,
  Field,
  type FieldErrors,
  FormError,
  PageHeading,
  fieldErrors,
  FilterSelect,
} from '../components.js';
import { allowed, useApp } from '../context.js';
import { ago, shortId } from '../format.js';
import { useLiveEvents, useLoad, useNow } from '../hooks.js';
import { type Route, href, setQuery } from '../router.js';
import type { AnyEvent, Task, TaskStatus } from '../types.js';
import { useProjectNames } from './projects.js';

const COLUMN_PAGE = 25;

/** The board's columns: the waiting states share one, every other state has its own. */
const columns: ReadonlyArray<{ id: string; label: string; statuses: TaskStatus[] }> = [
  { id: 'waiting', label: 'Waiting', statuses: ['blocked', 'scheduled', 'queued'] },
  { id: 'running', label: 'Running', statuses: ['running'] },
  { id: 'succeeded', label: 'Succeeded', statuses: ['succeeded'] },
  { id: 'failed', label: 'Failed', statuses: ['failed'] },
  { id: 'cancelled', label: 'Cancelled', statuses: ['cancelled'] },
];

const finished: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** The task an event carries, if it carries one (every `TASK_*` event but `TASK_DELETED`). */
export function taskOf(event: AnyEvent): Task | undefined {
  if (!event.type.startsWith('TASK_') || event.type === 'TASK_DELETED') return undefined;
  return (event.data as { task?: Task }).task;
}

/** Why a task was cancelled, when it was not by hand ("dependency failed"); null otherwise. */
export function cancelNote(task: Task): string | null {
  const reason = task.cancel_reason;
  return reason === null || reason === 'cancelled' ? null : reason.replace(/_/g, ' ');
}

/** The id of a deleted task. */
function deletedTaskId(event: AnyEvent): string | undefined {
  return event.type === 'TASK_DELETED' ? (event.data as { id?: string }).id : undefined;
}

function matches(task: Task, filters: TaskQuery): boolean {
  return (
    (filters.project_id === undefined || task.project_id === filters.project_id) &&
    (filters.kind === undefined || task.kind === filters.kind) &&
    (filters.agent_id === undefined || task.agent_id === filters.agent_id) &&
    (filters.status === undefined || filters.status.includes(task.status))
  );
}

/** Applies a live event to a list of tasks: changed in place, moved out, or put in front. */
function applyTaskEvent(tasks: Task[], event: AnyEvent, filters: TaskQuery): Task[] {
  const deleted = deletedTaskId(event);
  if (deleted !== undefined) return tasks.filter((task) => task.id !== deleted);
  const changed = taskOf(event);
  if (changed === undefined) return tasks;
  const existing = tasks.find((task) => task.id === changed.id);
  if (existing !== undefined && existing.version > changed.version) return tasks;
  const others = tasks.filter((task) => task.id !== changed.id);
  if (!matches(changed, filters)) return others;
  if (existing === undefined) return [changed, ...others];
  return tasks.map((task) => (task.id === changed.id ? changed : task));
}

/**
 * Tasks matching `query`, latest change first, live, with "load more" (the next page by offset;
 * a task that moved meanwhile is not shown twice). `total` follows the tasks that come and go.
 */
function useTaskList(query: TaskQuery, keys: unknown[]) {
  const { api } = useApp();
  const [list, setList] = useState<{ items: Task[]; total: number }>({ items: [], total: 0 });
  const first = useLoad(async () => {
    const page = await api.tasks.list({ sort: '-updated_at', ...query });
    setList({ items: page.items, total: page.total });
    return true;
  }, keys);
  useLiveEvents((event) =>
    setList((current) => {
      const id = taskOf(event)?.id ?? deletedTaskId(event);
      if (id === undefined) return current;
      const items = applyTaskEvent(current.items, event, query);
      const was = current.items.some((task) => task.id === id);
      const is = items.some((task) => task.id === id);
      return { items, total: current.total + Number(is) - Number(was) };
    }),
  );
  const loadMore = async () => {
    const offset = list.items.length;
    const page = await api.tasks.list({ sort: '-updated_at', ...query, offset });
    setList((current) => ({
      items: [
        ...current.items,
        ...page.items.filter((task) => !current.items.some((known) => known.id === task.id)),
      ],
      total: page.total,
    }));
  };
  const hasMore = list.items.length < list.total;
  return { tasks: list.items, total: list.total, hasMore, loadMore, ...first };
}

/** Cancel, retry and run-now, as the task's state and the caller's role allow. */
export function TaskActions({ task }: { task: Task }) {
  const { api, caller } = useApp();
  const [error, setError] = useState<unknown>(undefined);
  if (!allowed(caller, 'write')) return null;
  const act = (label: string, action: () => Promise<unknown>) => (
    <button
      type="button"
      aria-label={`${label} ${task.title}`}
      onClick={() => void action().then(() => setError(undefined), setError)}
    >
      {label}
    </button>
  );
  return (
    <div class="actions">
      {!finished.has(task.status) && act('Cancel', () => api.tasks.cancel(task.id))}
      {(task.status === 'failed' || task.status === 'cancelled') &&
        act('Retry', () => api.tasks.retry(task.id))}
      {task.status === 'scheduled' &&
        act('Run now', () =>
          api.tasks.patch(task.id, { run_at: new Date().toISOString() }, task.version),
        )}
      <ErrorNote error={error} />
    </div>
  );
}

function Progress({ task }: { task: Task }) {
  if (task.status !== 'running') return null;
  const value = task.progress?.value ?? 0;
  return (
    <div class="progress">
      <progress max={1} value={value} aria-label={`Progress of ${task.title}`} />
      <span>
        {Math.round(value * 100)} %{task.progress?.message ? ` · ${task.progress.message}` : ''}
      </span>
    </div>
  );
}

function TaskCard({
  task,
  project,
  now,
}: {
  task: Task;
  project: string | undefined;
  now: number;
}) {
  return (
    <li class="task" data-task={task.id} data-status={task.status}>
      <a class="title" href={href(`tasks/${task.id}`)}>
        {task.title}
      </a>
      <div class="meta">
        <Badge value={task.status} />
        <span>{task.kind}</span>
        <span>{project ?? shortId(task.project_id)}</span>
        {task.attempts > 0 && <span>attempt {task.attempts}</span>}
        <span>{ago(task.updated_at, now)}</span>
      </div>
      {cancelNote(task) !== null && <p class="note">{cancelNote(task)}</p>}
      {task.status === 'failed' && task.error !== null && <p class="note">{task.error}</p>}
      <Progress task={task} />
      <TaskActions task={task} />
    </li>
  );
}

function Column({
  column,
  filters,
  projects,
  now,
}: {
  column: (typeof columns)[number];
  filters: TaskQuery;
  projects: Map<string, string>;
  now: number;
}) {
  const query = { ...filters, status: column.statuses, limit: COLUMN_PAGE };
  const list = useTaskList(query, [JSON.stringify(query)]);
  const headingId = `column-${column.id}`;
  return (
    <section class="column" aria-labelledby={headingId}>
      <h2 id={headingId}>
        {column.label} <span class="total">{list.total}</span>
      </h2>
      <ErrorNote error={list.error} />
      <ul>
        {list.tasks.map((task) => (
          <TaskCard key={task.id} task={task} project={projects.get(task.project_id)} now={now} />
        ))}
      </ul>
      {list.hasMore && (
        <button type="button" onClick={() => void list.loadMore()}>
          Load more {column.label.toLowerCase()}
        </button>
      )}
    </section>
  );
}

function NewTask({ projects }: { projects: Map<string, string> }) {
  const { api } = useApp();
  const [form, setForm] = useState({
    project_id: '',
    title: '',
    kind: '',
    priority: '',
    max_attempts: '',
    required_capabilities: '',
    input: '',
  });
  const [error, setError] = useState<unknown>(undefined);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [created, setCreated] = useState<Task | undefined>(undefined);
  const set = (field: keyof typeof form) => (event: Event) =>
    setForm({ ...form, [field]: (event.currentTarget as HTMLInputElement).value });
  const submit = async (event: Event) => {
    event.preventDefault();
    const input: TaskInput = { project_id: form.project_id, title: form.title };
    if (form.kind !== '') input.kind = form.kind;
    if (form.priority !== '') input.priority = Number(form.priority);
    if (form.max_attempts !== '') input.max_attempts = Number(form.max_attempts);
    if (form.required_capabilities.trim() !== '')
      input.required_capabilities = form.required_capabilities.split(',').map((c) => c.trim());
    if (form.input.trim() !== '') {
      try {
        input.input = JSON.parse(form.input);
      } catch (failure) {
        setErrors({ '/input': `must be JSON: ${describeError(failure)}` });
        setError(new Error('input'));
        return;
      }
    }
    try {
      setCreated(await api.tasks.create(input));
      setError(undefined);
      setErrors({});
      setForm({ ...form, title: '', input: '' });
    } catch (failure) {
      setError(failure);
      setErrors(fieldErrors(failure));
      setCreated(undefined);
    }
  };
  return (
    <form class="inline-form" aria-labelledby="new-task" onSubmit={(event) => void submit(event)}>
      <h2 id="new-task">New task</h2>
      <FormError error={error} errors={errors} />
      {created !== undefined && (
        <p role="status">
          Created <a href={href(`tasks/${created.id}`)}>{created.title}</a>.
        </p>
      )}
      <Field id="task-project" label="Project" pointer="/project_id" errors={errors}>
        {(props) => (
          <select {...props} value={form.project_id} onChange={set('project_id')}>
            <option value="">Choose a project</option>
            {[...projects.entries()].map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field id="task-title" label="Title" pointer="/title" errors={errors}>
        {(props) => <input {...props} value={form.title} onInput={set('title')} />}
      </Field>
      <Field id="task-kind" label="Kind" pointer="/kind" errors={errors}>
        {(props) => <input {...props} value={form.kind} onInput={set('kind')} />}
      </Field>
      <Field id="task-priority" label="Priority" pointer="/priority" errors={errors}>
        {(props) => (
          <input {...props} type="number" value={form.priority} onInput={set('priority')} />
        )}
      </Field>
      <Field id="task-attempts" label="Max attempts" pointer="/max_attempts" errors={errors}>
        {(props) => (
          <input {...props} type="number" value={form.max_attempts} onInput={set('max_attempts')} />
        )}
      </Field>
      <Field
        id="task-capabilities"
        label="Required capabilities (comma-separated)"
        pointer="/required_capabilities"
        errors={errors}
      >
        {(props) => (
          <input
            {...props}
            value={form.required_capabilities}
            onInput={set('required_capabilities')}
          />
        )}
      </Field>
      <Field id="task-input" label="Input (JSON)" pointer="/input" errors={errors}>
        {(props) => <textarea {...props} rows={3} value={form.input} onInput={set('input')} />}
      </Field>
      <button type="submit">Create task</button>
    </form>
  );
}

/**
 * The task board: a column per state (the waiting states share one), 25 tasks to a column with
 * "load more", filtered by project, kind and agent. Task events move cards between columns as
 * they arrive.
 */
export function TasksPanel({ route }: { route: Route }) {
  const { caller } = useApp();
  const now = useNow();
  const projects = useProjectNames();
  const filters: TaskQuery = {};
  const projectId = route.query.get('project_id') ?? '';
  const kind = route.query.get('kind') ?? '';
  const agentId = route.query.get('agent_id') ?? '';
  if (projectId !== '') filters.project_id = projectId;
  if (kind !== '') filters.kind = kind;
  if (agentId !== '') filters.agent_id = agentId;
  const [kindText, setKindText] = useState(kind);
  const [agentText, setAgentText] = useState(agentId);
  useEffect(() => setKindText(kind), [kind]);
  return (
    <section>
      <PageHeading>Tasks</PageHeading>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setQuery(route, { kind: kindText.trim(), agent_id: agentText.trim() });
        }}
      >
        <FilterSelect
          id="task-filter-project"
          label="Project"
          value={projectId}
          options={[...projects.entries()]}
          onChange={(selected) => setQuery(route, { project_id: selected })}
        />
        <div class="field">
          <label for="task-filter-kind">Kind</label>
          <input
            id="task-filter-kind"
            value={kindText}
            onInput={(event) => setKindText(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="task-filter-agent">Agent id</label>
          <input
            id="task-filter-agent"
            value={agentText}
            onInput={(event) => setAgentText(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      <div class="board">
        {columns.map((column) => (
          <Column key={column.id} column={column} filters={filters} projects={projects} now={now} />
        ))}
      </div>
      {allowed(caller, 'write') && <NewTask projects={projects} />}
    </section>
  );
}

/** A project's latest tasks, live (the project page). */
export function TaskList({ projectId }: { projectId: string }) {
  const now = useNow();
  const list = useTaskList({ project_id: projectId, limit: 20 }, [projectId]);
  return (
    <>
      <ErrorNote error={list.error} />
      {list.tasks.length === 0 ? (
        <Empty>No task in this project.</Empty>
      ) : (
        <ul class="task-list">
          {list.tasks.map((task) => (
            <li key={task.id}>
              <a href={href(`tasks/${task.id}`)}>{task.title}</a> <Badge value={task.status} />{' '}
              <span class="muted">{ago(task.updated_at, now)}</span>
            </li>
          ))}
          {list.hasMore && (
            <li>
              <a href={href('tasks', { project_id: projectId })}>all tasks of this project</a>
            </li>
          )}
        </ul>
      )}
    </>
  );
}
