import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, describeError } from './api.js';

/** A status as a word in a coloured pill: the word carries the meaning, the colour only helps. */
export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.toLowerCase()}`}>{value.replace(/_/g, ' ')}</span>;
}

/** The panel's title, focused when the panel opens: keyboard and screen-reader users land on it. */
export function PageHeading({ children }: { children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** A failed load or action, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** "Page 3 of 12" with previous and next buttons, for offset-paged lists. */
export function Pager({
  label,
  offset,
  limit,
  total,
  onOffset,
}: {
  label: string;
  offset: number;
  limit: number;
  total: number;
  onOffset: (offset: number) => void;
}) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={page <= 1} onClick={() => onOffset(offset - limit)}>
        Previous
      </button>
      <span>
        Page {page} of {pages} · {total} in all
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onOffset(offset + limit)}>
        Next
      </button>
    </nav>
  );
}

/** The field messages of a 422 problem by JSON pointer (`/name` → "must not be blank"). */
export type FieldErrors = Record<string, string>;

export function fieldErrors(error: unknown): FieldErrors {
  if (!(error instanceof ApiError) || error.problem.errors === undefined) return {};
  const errors: FieldErrors = {};
  for (const item of error.problem.errors) errors[item.path] ??= item.message;
  return errors;
}

/** A labelled form field with its message from the server right below it. */
export function Field({
  id,
  label,
  pointer,
  errors,
  children,
}: {
  id: string;
  label: string;
  /** The JSON pointer of the field in the request body (`/title`). */
  pointer: string;
  errors: FieldErrors;
  children: (props: {
    id: string;
    'aria-invalid': boolean;
    'aria-describedby': string | undefined;
  }) => ComponentChildren;
}) {
  const message = errors[pointer];
  const messageId = `${id}-error`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({
        id,
        'aria-invalid': message !== undefined,
        'aria-describedby': message === undefined ? undefined : messageId,
      })}
      {message !== undefined && (
        <p class="field-error" id={messageId}>
          {message}
        </p>
      )}
    </div>
  );
}

/** The error of a form that no field message explains (a 409, a network error…). */
export function FormError({ error, errors }: { error: unknown; errors: FieldErrors }) {
  if (error === undefined || error === null) return null;
  const unexplained = Object.keys(errors).length === 0;
  return (
    <p class="error" role="alert">
      {unexplained ? describeError(error) : 'Please correct the fields marked below.'}
    </p>
  );
}

/** A table's empty state. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/**
 * A labelled filter of a list: "Any" (the empty value) and `options` as `[value, label]` pairs.
 * One shape for every panel's filters, so their markup and labels stay alike.
 */
export function FilterSelect({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  options: Array<readonly [string, string]>;
  onChange: (value: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.currentTarget.value)}>
        <option value="">Any</option>
        {options.map(([option, text]) => (
          <option key={option} value={option}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}
