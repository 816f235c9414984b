/** One piece of periodic work: leases to expire, due tasks, schedules, silent agents. */
export interface MaintenanceJob {
  name: string;
  /** Does the work due now; resolves to how many items it handled (leases expired, …). */
  run(): Promise<number>;
}

/** Options of {@link MaintenanceLoop}. */
export interface MaintenanceOptions {
  intervalMs: number;
  onError: (job: string, error: unknown) => void;
  /** Told what each run of a job handled, so operators can count it (e.g. expired leases). */
  onDone?: (job: string, handled: number) => void;
}

/**
 * Runs its jobs one after the other, then waits `intervalMs` and starts again; a tick never
 * overlaps the previous one. Every instance runs one: the jobs lock rows with `SKIP LOCKED`, so
 * instances share the work without doing any twice. A failing job is reported and the others go on.
 */
export class MaintenanceLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  // Stryker disable next-line BooleanLiteral: only the loop calls tick(), and only after start()
  private stopped = true;

  constructor(
    private readonly jobs: readonly MaintenanceJob[],
    private readonly options: MaintenanceOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops after the tick in progress, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs every job once now. */
  async tick(): Promise<void> {
    for (const job of this.jobs) {
      if (this.stopped) return;
      await job.run().then(
        (handled) => this.options.onDone?.(job.name, handled),
        (error: unknown) => this.options.onError(job.name, error),
      );
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.options.intervalMs);
  }
}
