/**
 * A repeat of a stop signal within this time is the same request, not a demand to stop at once:
 * under `npm start` or `npm run agent` a Ctrl-C reaches the process twice, from the terminal and
 * forwarded by npm, and so does a SIGTERM sent to the whole process group (as systemd and
 * `kill -- -<pgid>` do).
 */
export const REPEAT_WINDOW_MS = 1_000;

/** What a process does when asked to stop. */
export interface StopRequests {
  /** The first SIGTERM or SIGINT: stop gracefully. */
  first(signal: NodeJS.Signals): void;
  /** A signal {@link REPEAT_WINDOW_MS} or more after the first: stop now. */
  insist(signal: NodeJS.Signals): void;
}

/** Where the signals come from and what time it is; tests hand in an emitter and a fake clock. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  now(): number;
}

// Stryker disable all: the process's own signals, run for real by test/faults/npm-start-signals
const processSignals: SignalSource = {
  on: (event, listener) => process.on(event, listener),
  now: Date.now,
};
// Stryker restore all

/**
 * Listens for SIGTERM and SIGINT for the life of the process: the first is a graceful stop, a
 * repeat within {@link REPEAT_WINDOW_MS} is ignored, a later one insists. The listeners stay:
 * until the process exits, no stop signal may kill it by Node's default action.
 */
export function onStopSignals(requests: StopRequests, source = processSignals): void {
  let firstAt: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === null) {
      firstAt = source.now();
      requests.first(signal);
    } else if (source.now() - firstAt >= REPEAT_WINDOW_MS) requests.insist(signal);
  };
  source.on('SIGTERM', onSignal);
  source.on('SIGINT', onSignal);
}

// Stryker disable all: ends the process; test/faults/npm-start-signals runs it for real
/**
 * Ends the process now with `code`, once it has stopped. Why not let it end by itself: while Node
 * tears a process down it removes its signal handlers, and a stop signal arriving then (npm's
 * forwarded Ctrl-C, late on a busy machine) kills the process by that signal, so npm reports a
 * clean stop as a crash. `process.exit()` ends it without that teardown.
 */
export function exitStopped(code: number): never {
  process.exit(code);
}
// Stryker restore all
