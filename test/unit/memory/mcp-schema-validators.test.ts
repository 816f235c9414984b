import { describe, expect, it } from 'vitest';
import { SharedSchemaValidators } from '../../../src/memory/mcp-schema-validators.js';

const entitySchema = {
  type: 'object',
  properties: { name: { type: 'string' } },
  required: ['name'],
} as const;

describe('SharedSchemaValidators', () => {
  it('compiles a schema once and hands the same validator to every client that lists it', () => {
    const validators = new SharedSchemaValidators();
    const first = validators.getValidator(entitySchema);
    const again = validators.getValidator(JSON.parse(JSON.stringify(entitySchema)));
    expect(again).toBe(first);
    expect(validators.size).toBe(1);
    expect(first({ name: 'a' })).toEqual({
      valid: true,
      data: { name: 'a' },
      errorMessage: undefined,
    });
    expect(first({ name: 1 })).toMatchObject({
      valid: false,
      errorMessage: expect.stringContaining('name'),
    });
  });

  it('keeps schemas apart by their content', () => {
    const validators = new SharedSchemaValidators();
    const strict = validators.getValidator({ ...entitySchema, additionalProperties: false });
    const loose = validators.getValidator(entitySchema);
    expect(strict).not.toBe(loose);
    expect(validators.size).toBe(2);
    expect(validators.getValidator({ ...entitySchema, additionalProperties: false })).toBe(strict);
    expect(strict({ name: 'a', extra: 1 }).valid).toBe(false);
    expect(loose({ name: 'a', extra: 1 }).valid).toBe(true);
  });

  it('starts over past its limit, so a server that changes its schemas cannot grow it without bound', () => {
    const validators = new SharedSchemaValidators(2);
    const first = validators.getValidator({ type: 'string' });
    validators.getValidator({ type: 'number' });
    validators.getValidator({ type: 'boolean' });
    expect(validators.size).toBe(1);
    expect(validators.getValidator({ type: 'string' })).not.toBe(first);
    expect(validators.getValidator({ type: 'string' })('x').valid).toBe(true);
  });
});
