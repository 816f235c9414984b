import { useState } from 'preact/hooks';
import { Badge, Empty, ErrorNote, PageHeading, FilterSelect } from '../components.js';
import { allowed, useApp } from '../context.js';
import { ago, dateTime } from '../format.js';
import { useLiveEvents, useLoad, useNow } from '../hooks.js';
import type { MemorySearchResult } from '../types.js';
import { useProjectNames } from './projects.js';

/** Where an answer came from, in the words the dashboard shows next to each hit. */
const sourceNames: Record<MemorySearchResult['source'], string> = {
  mcp: 'mcp',
  fallback_cache: 'cache',
  fallback_storage: 'storage',
};

function Circuit() {
  const { api, caller } = useApp();
  const now = useNow();
  const circuit = useLoad(() => api.client.memory.circuit(), []);
  const [error, setError] = useState<unknown>(undefined);
  useLiveEvents((event) => event.type === 'MEMORY_CIRCUIT' && circuit.reload());
  const data = circuit.data;
  return (
    <section class="card" aria-labelledby="circuit-heading">
      <h2 id="circuit-heading">Circuit breaker</h2>
      <ErrorNote error={circuit.error ?? error} />
      {data !== undefined && (
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <Badge value={data.state} />
          </dd>
          <dt>Queued writes</dt>
          <dd>{data.queued_writes}</dd>
          <dt>Fallback answers</dt>
          <dd>{data.fallback_count}</dd>
          <dt>Failures</dt>
          <dd>
            {data.failure_count} ({data.consecutive_failures} in a row)
          </dd>
          <dt>Rejected calls</dt>
          <dd>{data.rejected_count}</dd>
          <dt>Last failure</dt>
          <dd>{ago(data.last_failure_at, now)}</dd>
          {data.next_attempt_at !== null && (
            <>
              <dt>Next attempt</dt>
              <dd>{dateTime(data.next_attempt_at)}</dd>
            </>
          )}
        </dl>
      )}
      <div class="actions">
        <button type="button" onClick={circuit.reload}>
          Refresh
        </button>
        {allowed(caller, 'admin') && (
          <button
            type="button"
            onClick={() =>
              void api.client.memory.resetCircuit().then(() => {
                setError(undefined);
                circuit.reload();
              }, setError)
            }
          >
            Reset circuit
          </button>
        )}
      </div>
    </section>
  );
}

/** Memory: search (each hit says if `mcp`, the `cache` or local `storage` answered); circuit. */
export function MemoryPanel() {
  const { api } = useApp();
  const projects = useProjectNames();
  const [q, setQ] = useState('');
  const [projectId, setProjectId] = useState('');
  const [result, setResult] = useState<MemorySearchResult | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const search = async (event: Event) => {
    event.preventDefault();
    try {
      setResult(
        await api.client.memory.search({
          q,
          project_id: projectId === '' ? undefined : projectId,
          limit: 50,
        }),
      );
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section>
      <PageHeading>Memory</PageHeading>
      <div class="memory">
        <section aria-labelledby="search-heading">
          <h2 id="search-heading">Search</h2>
          <form class="filters" role="search" onSubmit={(event) => void search(event)}>
            <div class="field">
              <label for="memory-q">Text</label>
              <input
                id="memory-q"
                type="search"
                required
                value={q}
                onInput={(event) => setQ(event.currentTarget.value)}
              />
            </div>
            <FilterSelect
              id="memory-project"
              label="Project"
              value={projectId}
              options={[...projects.entries()]}
              onChange={(selected) => setProjectId(selected)}
            />
            <button type="submit">Search</button>
          </form>
          <ErrorNote error={error} />
          {result !== undefined &&
            (result.items.length === 0 ? (
              <Empty>Nothing found (answered by {sourceNames[result.source]}).</Empty>
            ) : (
              <ul class="hits">
                {result.items.map((hit) => (
                  <li key={`${hit.project_id ?? ''}/${hit.key}`} data-key={hit.key}>
                    <div class="hit-head">
                      <strong>{hit.key}</strong>
                      <span class={`source source-${sourceNames[result.source]}`}>
                        from {sourceNames[result.source]}
                      </span>
                      {hit.project_id !== null && (
                        <span class="muted">{projects.get(hit.project_id) ?? hit.project_id}</span>
                      )}
                    </div>
                    <p>{hit.content}</p>
                    {hit.tags.length > 0 && (
                      <ul class="tags" aria-label="Tags">
                        {hit.tags.map((tag) => (
                          <li key={tag}>{tag}</li>
                        ))}
                      </ul>
                    )}
                  </li>
                ))}
              </ul>
            ))}
        </section>
        <Circuit />
      </div>
    </section>
  );
}
