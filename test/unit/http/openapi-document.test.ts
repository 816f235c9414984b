import { describe, expect, it } from 'vitest';
import {
  type OpenApiDocument,
  addDiscriminators,
  finishDocument,
  markOptionalBodies,
  nameRequestSchemas,
  pruneSchemas,
  usedSchemas,
} from '../../../src/http/openapi-document.js';
import { problems } from '../../../src/http/responses.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });

/** A document as fastify-type-provider-zod leaves it: both twins of every registered schema. */
function generated(): OpenApiDocument {
  return {
    paths: {
      '/things': {
        post: {
          requestBody: { required: true, ...json(ref('ThingCreateInput')) },
          responses: { 201: json(ref('Thing')) },
        },
        get: { responses: { 200: json(ref('ThingPage')) } },
      },
    },
    components: {
      schemas: {
        Thing: { type: 'object', properties: { tag: ref('Tag') } },
        ThingInput: { type: 'object' },
        ThingPage: { type: 'object', properties: { items: { items: ref('Thing') } } },
        ThingPageInput: { type: 'object' },
        ThingCreate: { type: 'object', required: ['name', 'size'] },
        ThingCreateInput: { required: ['name'], properties: { size: ref('SizeInput') } },
        Tag: { type: 'string' },
        TagInput: { type: 'string' },
        Size: { type: 'integer', minimum: 1 },
        SizeInput: { type: 'integer' },
        Unused: { type: 'object' },
      },
    },
  };
}

describe('the OpenAPI document finishing steps', () => {
  it('finds the schemas used through other schemas, and only those', () => {
    const used = [...usedSchemas(generated())].sort();
    expect(used).toEqual(['SizeInput', 'Tag', 'Thing', 'ThingCreateInput', 'ThingPage']);
    expect(usedSchemas({}).size).toBe(0);
  });

  it('gives a request schema its registered name and drops every unused schema', () => {
    const document = generated();
    nameRequestSchemas(document);
    pruneSchemas(document);
    type Paths = Record<string, Record<string, { requestBody?: { content: object } }>>;
    const body = (document.paths as Paths)['/things']!.post!.requestBody!.content;
    expect(body).toEqual({ 'application/json': { schema: ref('ThingCreate') } });
    const schemas = document.components!.schemas!;
    expect(schemas.ThingCreate).toEqual({ required: ['name'], properties: { size: ref('Size') } });
    expect(schemas.Size).toEqual({ type: 'integer' });
    expect(Object.keys(schemas).sort()).toEqual([
      'Size',
      'Tag',
      'Thing',
      'ThingCreate',
      'ThingPage',
    ]);
  });

  it('refuses a schema used in a request and in a response: its name would mislead one', () => {
    const document = generated();
    const paths = document.paths as Record<string, Record<string, object>>;
    paths['/things']!.put = { requestBody: json(ref('ThingInput')), responses: {} };
    expect(() => nameRequestSchemas(document)).toThrow('Schema Thing is used in a request and');
  });

  it('leaves a schema whose name only ends in Input alone when none has its base name', () => {
    const document: OpenApiDocument = {
      paths: { '/a': { get: { responses: { 200: json(ref('UserInput')) } } } },
      components: { schemas: { UserInput: { type: 'object' }, UserInputInput: {} } },
    };
    finishDocument(document);
    expect(Object.keys(document.components!.schemas!)).toEqual(['UserInput']);
  });

  it('adds a discriminator to a oneOf of named schemas one constant property tells apart', () => {
    const variant = (type: string) => ({ properties: { id: {}, type: { const: type } } });
    const document: OpenApiDocument = {
      components: {
        schemas: {
          Event: { oneOf: [ref('Created'), ref('Deleted')] },
          Created: variant('CREATED'),
          Deleted: variant('DELETED'),
          Mixed: { oneOf: [ref('Created'), { type: 'string' }] },
          Unknown: { oneOf: [ref('Missing')] },
          Untold: { oneOf: [ref('Plain'), ref('Plain')] },
          Plain: { type: 'object', properties: { id: { type: 'integer' } } },
          Bare: { oneOf: [ref('Text')] },
          Text: { type: 'string' },
        },
      },
    };
    addDiscriminators(document);
    const schemas = document.components!.schemas!;
    expect(schemas.Event!.discriminator).toEqual({
      propertyName: 'type',
      mapping: { CREATED: '#/components/schemas/Created', DELETED: '#/components/schemas/Deleted' },
    });
    for (const name of ['Mixed', 'Unknown', 'Untold', 'Bare', 'Plain']) {
      expect(schemas[name]!.discriminator, name).toBeUndefined();
    }
    addDiscriminators({});
  });

  it('marks a body optional when its schema accepts null, directly, by $ref or in a union', () => {
    const body = (schema: object) => ({
      post: { requestBody: { required: true, ...json(schema) } },
    });
    const document: OpenApiDocument = {
      paths: {
        '/a': body({ anyOf: [{ type: 'object' }, { type: 'null' }] }),
        '/b': body(ref('Nullable')),
        '/c': body({ type: ['object', 'null'] }),
        '/d': body({ type: 'object' }),
        '/e': body(ref('Missing')),
        '/f': { post: { requestBody: { required: true, content: {} } }, parameters: [] },
        '/g': { get: { responses: {} } },
      },
      components: { schemas: { Nullable: { oneOf: [{ type: 'null' }] } } },
    };
    markOptionalBodies(document);
    type Item = { post?: { requestBody: { required: boolean } } };
    const required = Object.fromEntries(
      Object.entries(document.paths!).map(([path, item]) => [
        path,
        (item as Item).post?.requestBody.required,
      ]),
    );
    expect(required).toEqual({
      '/a': false,
      '/b': false,
      '/c': false,
      '/d': true,
      '/e': true,
      '/f': true,
      '/g': undefined,
    });
    markOptionalBodies({});
  });
});

describe('response declarations', () => {
  it('refuse a problem status without a description, rather than document it as nothing', () => {
    expect(Object.keys(problems(404, 422))).toEqual(['404', '422']);
    expect(() => problems(418)).toThrow('No description for problem status 418');
  });
});
