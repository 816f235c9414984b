import { useEffect, useRef, useState } from 'preact/hooks';
import { Empty, ErrorNote, PageHeading, FilterSelect } from '../components.js';
import { useApp } from '../context.js';
import { dateTime } from '../format.js';
import { useLiveEvents } from '../hooks.js';
import type { AnyEvent } from '../types.js';

const KEEP = 500;
const BACKLOG = 50;

const knownTypes = [
  'PROJECT_CREATED',
  'PROJECT_UPDATE',
  'PROJECT_DELETED',
  'AGENT_CREATED',
  'AGENT_UPDATE',
  'AGENT_STATUS',
  'AGENT_DELETED',
  'TASK_CREATED',
  'TASK_UPDATE',
  'TASK_DELETED',
  'TASK_EXECUTION',
  'SCHEDULE_CREATED',
  'SCHEDULE_UPDATE',
  'SCHEDULE_DELETED',
  'MEMORY_CIRCUIT',
];

/** A line saying what an event is about: the name or title of what it carries. */
function summary(event: AnyEvent): string {
  const data = event.data;
  for (const field of ['project', 'agent', 'task', 'schedule'] as const) {
    const item = data[field] as { name?: string; title?: string; status?: string } | undefined;
    if (item !== undefined) {
      const changed = data.changed_fields as string[] | undefined;
      const phase = typeof data.phase === 'string' ? ` ${data.phase}` : '';
      return `${item.name ?? item.title ?? ''}${item.status ? ` → ${item.status}` : ''}${phase}${changed && changed.length > 0 ? ` (${changed.join(', ')})` : ''}`;
    }
  }
  if (event.type === 'MEMORY_CIRCUIT')
    return `${String(data.from)} → ${String(data.to)}: ${String(data.reason)}`;
  return typeof data.id === 'string' ? String(data.id) : '';
}

function merge(current: AnyEvent[], incoming: AnyEvent[]): AnyEvent[] {
  const seen = new Set(current.map((event) => event.id));
  const all = [...current, ...incoming.filter((event) => !seen.has(event.id))];
  all.sort((a, b) => a.id - b.id);
  return all.slice(-KEEP);
}

/**
 * The event feed: the last 50 events of the log, then every event as it arrives (the newest
 * 500 kept), filtered by type and topic; paused, it holds new events back until resumed.
 */
export function EventsPanel() {
  const { api, live } = useApp();
  const [events, setEvents] = useState<AnyEvent[]>([]);
  const [held, setHeld] = useState<AnyEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [type, setType] = useState('');
  const [topic, setTopic] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  useEffect(() => {
    const head = live.lastEventId ?? 0;
    api.client
      .events({ after: Math.max(0, head - BACKLOG), limit: BACKLOG })
      .then((page) => setEvents((current) => merge(page.items, current)), setError);
  }, [api, live]);
  useLiveEvents((event) => {
    if (pausedRef.current) setHeld((current) => [...current, event].slice(-KEEP));
    else setEvents((current) => merge(current, [event]));
  });
  const resume = () => {
    setEvents((current) => merge(current, held));
    setHeld([]);
    setPaused(false);
  };
  const shown = events
    .filter((event) => type === '' || event.type === type)
    .filter((event) => topic === '' || event.topic.includes(topic.trim()))
    .reverse();
  return (
    <section>
      <PageHeading>Events</PageHeading>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <FilterSelect
          id="event-type"
          label="Type"
          value={type}
          options={knownTypes.map((item) => [item, item] as const)}
          onChange={(selected) => setType(selected)}
        />
        <div class="field">
          <label for="event-topic">Topic contains</label>
          <input
            id="event-topic"
            value={topic}
            placeholder="project:…, agent:…, system"
            onInput={(event) => setTopic(event.currentTarget.value)}
          />
        </div>
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => (paused ? resume() : setPaused(true))}
        >
          {paused ? `Resume (${held.length} new)` : 'Pause'}
        </button>
      </form>
      <ErrorNote error={error} />
      {shown.length === 0 ? (
        <Empty>No event yet{type !== '' || topic !== '' ? ' matches the filters' : ''}.</Empty>
      ) : (
        <table class="list events">
          <caption class="visually-hidden">Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Topic</th>
              <th scope="col">What</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((event) => (
              <tr key={event.id} data-event={event.id}>
                <td class="number">{event.id}</td>
                <td>
                  <time dateTime={event.timestamp}>{dateTime(event.timestamp)}</time>
                </td>
                <td>{event.type}</td>
                <td>
                  <code>{event.topic}</code>
                </td>
                <td>{summary(event)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
