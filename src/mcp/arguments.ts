import { z } from 'zod';

/**
 * The same schema as a root of its own. A schema named with `.meta({ id })` (for the OpenAPI
 * document) becomes `{"$ref": …, "definitions": …}` at the root of a tool's JSON Schema, and
 * MCP requires `"type": "object"` there. A copy of its definition keeps every rule but not the
 * name (a plain `clone()` remembers its parent, which the converter turns into a `$ref` again).
 */
export function root<Schema extends z.ZodType>(schema: Schema): Schema {
  return schema.clone({ ...schema.def });
}

/** One query-string field as JSON: `"20"` → `20`, `?a=x&a=y` → `["x","y"]`, the same rules. */
function jsonField(field: z.ZodType): z.ZodType {
  if (field instanceof z.ZodDefault) {
    const inner = field.unwrap() as z.ZodType;
    if (inner instanceof z.ZodPipe)
      return (inner.out as z.ZodType).default(field.def.defaultValue as never);
  }
  if (field instanceof z.ZodOptional) {
    const inner = field.unwrap() as z.ZodType;
    if (inner instanceof z.ZodPipe) return (inner.out as z.ZodType).optional();
  }
  return field;
}

/**
 * A REST list query as tool arguments. A query string carries only text, so its schemas parse
 * integers from digits and accept a parameter once or repeated; a tool call carries JSON, so
 * each such field is replaced by the schema it pipes into (its bounds, enums and defaults
 * unchanged). The parsed arguments have exactly the type the REST query has.
 */
export function jsonArguments(query: z.ZodObject): z.ZodObject {
  const shape = Object.fromEntries(
    Object.entries(query.shape).map(([name, field]) => [name, jsonField(field as z.ZodType)]),
  );
  return z.strictObject(shape);
}
