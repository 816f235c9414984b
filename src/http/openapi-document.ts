/**
 * Finishing steps for the generated OpenAPI document, on its JSON alone: what a client
 * generator reads must name each schema once, for the direction it is used in, and hold nothing
 * unused (see docs/api.md, "OpenAPI").
 */

type JsonObject = Record<string, unknown>;

/** The parts of an OpenAPI document these steps read and change. */
export interface OpenApiDocument {
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, JsonObject>; [part: string]: unknown };
  [field: string]: unknown;
}

const SCHEMA_REF = '#/components/schemas/';

/** The suffix fastify-type-provider-zod gives the request-side (input) twin of every schema. */
export const INPUT_SUFFIX = 'Input';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null;
}

/** The items of a JSON array, or none. */
function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/** Calls `visit` on every object inside `value`, `value` included. */
function eachObject(value: unknown, visit: (object: JsonObject) => void): void {
  const pending = [value];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (Array.isArray(next)) pending.push(...listOf(next));
    else if (isObject(next)) {
      visit(next);
      pending.push(...Object.values(next));
    }
  }
}

function refName(object: JsonObject): string | undefined {
  const ref = object.$ref;
  if (typeof ref !== 'string' || !ref.startsWith(SCHEMA_REF)) return undefined;
  return ref.slice(SCHEMA_REF.length);
}

/** The component schemas named by a `$ref` anywhere in `value`. */
function refsIn(value: unknown): Set<string> {
  const names = new Set<string>();
  eachObject(value, (object) => {
    const name = refName(object);
    if (name !== undefined) names.add(name);
  });
  return names;
}

/** The component schemas the operations use, directly or through other components. */
export function usedSchemas(document: OpenApiDocument): Set<string> {
  const schemas = document.components?.schemas ?? {};
  const used = new Set<string>();
  const pending = [...refsIn(document.paths)];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (used.has(name)) continue;
    used.add(name);
    pending.push(...refsIn(schemas[name]));
  }
  return used;
}

/** Points every `$ref` to a renamed schema at its new name. */
function rewriteRefs(document: OpenApiDocument, renames: ReadonlyMap<string, string>): void {
  eachObject(document, (object) => {
    const renamed = renames.get(refName(object) ?? '');
    if (renamed !== undefined) object.$ref = `${SCHEMA_REF}${renamed}`;
  });
}

/**
 * fastify-type-provider-zod emits every registered schema twice: `X` as a response reads it and
 * `XInput` as a request reads it (defaults make fields optional). A request body registered as
 * `ProjectCreate` is therefore referenced as `ProjectCreateInput`; it takes its registered name
 * here, and its unused response twin goes with the pruning. A name used in a request and in a
 * response would describe one of them wrongly, so it throws: register one schema for each.
 */
export function nameRequestSchemas(document: OpenApiDocument): void {
  const schemas = document.components?.schemas ?? {};
  const used = usedSchemas(document);
  const renames = new Map<string, string>();
  for (const name of used) {
    const registered = name.endsWith(INPUT_SUFFIX) ? name.slice(0, -INPUT_SUFFIX.length) : '';
    if (!(registered in schemas) || !(name in schemas)) continue;
    if (used.has(registered)) {
      const problem = 'is used in a request and in a response; register one for each';
      throw new Error(`Schema ${registered} ${problem}`);
    }
    renames.set(name, registered);
  }
  for (const [twin, name] of renames) {
    schemas[name] = schemas[twin]!;
    delete schemas[twin];
  }
  rewriteRefs(document, renames);
}

/** Removes every component schema no operation uses. */
export function pruneSchemas(document: OpenApiDocument): void {
  const schemas = document.components?.schemas ?? {};
  const used = usedSchemas(document);
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}

interface Discriminator {
  propertyName: string;
  values: string[];
}

const propertiesOf = (schema: JsonObject) => (isObject(schema.properties) ? schema.properties : {});

/** The property every branch fixes to a constant (`type` of an event), and each branch's value. */
function discriminatorOf(branches: JsonObject[]): Discriminator | null {
  const candidates = Object.keys(propertiesOf(branches[0] ?? {}));
  for (const propertyName of candidates) {
    const values = branches.map((branch) => {
      const property = propertiesOf(branch)[propertyName];
      return isObject(property) ? property.const : undefined;
    });
    if (values.every((value): value is string => typeof value === 'string')) {
      return { propertyName, values };
    }
  }
  return null;
}

/**
 * Adds an OpenAPI `discriminator` to every `oneOf` of named schemas that one property tells
 * apart (`Event` by `type`), so generators build a tagged union instead of trying each branch.
 */
export function addDiscriminators(document: OpenApiDocument): void {
  const schemas = document.components?.schemas ?? {};
  for (const schema of Object.values(schemas)) {
    const branches = listOf(schema.oneOf);
    const names = branches.map((branch) => (isObject(branch) ? refName(branch) : undefined));
    const named = names.every((name) => name !== undefined && name in schemas);
    if (names.length === 0 || !named) continue;
    const found = discriminatorOf(names.map((name) => schemas[name!]!));
    if (found === null) continue;
    const mapping: Record<string, string> = {};
    found.values.forEach((value, index) => (mapping[value] = `${SCHEMA_REF}${names[index]}`));
    schema.discriminator = { propertyName: found.propertyName, mapping };
  }
}

function acceptsNull(schema: unknown, schemas: Record<string, JsonObject>): boolean {
  if (!isObject(schema)) return false;
  const name = refName(schema);
  if (name !== undefined) return acceptsNull(schemas[name], schemas);
  const types = [schema.type].flat();
  const branches = [...listOf(schema.anyOf), ...listOf(schema.oneOf)];
  return types.includes('null') || branches.some((branch) => acceptsNull(branch, schemas));
}

/**
 * @fastify/swagger marks every request body required. A body whose schema accepts null may be
 * left out (a request without a body reaches validation as null), so it is marked optional.
 */
export function markOptionalBodies(document: OpenApiDocument): void {
  const schemas = document.components?.schemas ?? {};
  for (const operation of Object.values(document.paths ?? {}).flatMap(Object.values)) {
    const body = isObject(operation) ? operation.requestBody : undefined;
    if (!isObject(body) || !isObject(body.content)) continue;
    const media = Object.values(body.content);
    const nullable = media.every((item) => isObject(item) && acceptsNull(item.schema, schemas));
    if (media.length > 0 && nullable) body.required = false;
  }
}

/** Every step, in order: name request schemas, drop unused ones, then describe what remains. */
export function finishDocument(document: OpenApiDocument): OpenApiDocument {
  nameRequestSchemas(document);
  pruneSchemas(document);
  addDiscriminators(document);
  markOptionalBodies(document);
  return document;
}
