import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

/**
 * Validators of tool output schemas, compiled once per process and shared by every MCP client.
 * Left alone, the SDK gives each client a new Ajv instance and compiles the output schema of
 * every tool it lists: ≈ 30 ms of CPU on each connect, and the service reconnects to the same
 * server after every crash. Schemas are told apart by their JSON. Past `limit` distinct ones (a
 * server that sends new schemas on every connect) it starts over with a new Ajv instance, so the
 * memory they hold stays bounded.
 */
export class SharedSchemaValidators implements jsonSchemaValidator {
  private ajv = new AjvJsonSchemaValidator();
  private readonly compiled = new Map<string, JsonSchemaValidator<unknown>>();

  /** `limit`: a positive integer, the number of distinct schemas kept before starting over. */
  constructor(private readonly limit = 256) {}

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let validator = this.compiled.get(key);
    if (validator === undefined) {
      if (this.compiled.size >= this.limit) this.startOver();
      validator = this.ajv.getValidator(schema);
      this.compiled.set(key, validator);
    }
    return validator as JsonSchemaValidator<T>;
  }

  /** How many schemas are compiled now. */
  get size(): number {
    return this.compiled.size;
  }

  private startOver(): void {
    this.compiled.clear();
    this.ajv = new AjvJsonSchemaValidator();
  }
}

/** The validators every connection of this process uses. */
export const sharedSchemaValidators = new SharedSchemaValidators();
