/** One log call in pino's form: bindings first, then the message. A pino logger fits. */
export type LogFunction = (bindings: object, message: string) => void;

/**
 * The one logger type of the code base: components take it (or the `Pick` of the levels they
 * use), and the app hands them its pino logger; tests pass plain objects.
 */
export interface Logger {
  debug: LogFunction;
  info: LogFunction;
  warn: LogFunction;
  error: LogFunction;
}
