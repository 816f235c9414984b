import type { LoggedEvent } from '../domain/event.js';

/**
 * One waiting claim's place in line. Taken *before* the claim looks for work, so a task queued
 * between that look and the wait still wakes it.
 */
export class ClaimTicket {
  private outcome: boolean | undefined;
  private settleWait: ((woken: boolean) => void) | undefined;

  constructor(private readonly onRelease: (ticket: ClaimTicket) => void) {}

  /**
   * True when work may have arrived; false when `ms` passed, `signal` aborted or waiting closed.
   */
  wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.outcome !== undefined) return Promise.resolve(this.outcome);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(false), ms);
      const abort = () => this.settle(false);
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: settling removes the listener
      signal?.addEventListener('abort', abort, { once: true });
      this.settleWait = (woken) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve(woken);
      };
    });
  }

  settle(woken: boolean): void {
    if (this.outcome !== undefined) return;
    this.outcome = woken;
    this.settleWait?.(woken);
    this.release();
  }

  /** Leaves the line without waiting (the claim found work, or failed). */
  release(): void {
    this.onRelease(this);
  }
}

/**
 * The claims of this instance waiting for work. Any task becoming queued wakes them all: each
 * looks again, one takes it, the rest wait on. Waking all is what keeps an agent whose
 * capabilities fit from sleeping while one that does not fit was woken instead.
 */
export class ClaimWaiters {
  private readonly tickets = new Set<ClaimTicket>();
  private closed = false;

  ticket(): ClaimTicket {
    const ticket = new ClaimTicket((done) => this.tickets.delete(done));
    if (this.closed) ticket.settle(false);
    else this.tickets.add(ticket);
    return ticket;
  }

  /** How many claims wait now. */
  get size(): number {
    return this.tickets.size;
  }

  wake(): void {
    for (const ticket of [...this.tickets]) ticket.settle(true);
  }

  /** Ends every wait (they answer "no work") and refuses new ones: the service is closing. */
  close(): void {
    this.closed = true;
    for (const ticket of [...this.tickets]) ticket.settle(false);
  }
}

/** True for an event after which a claim may find work: a task that is now queued. */
export function makesWork(event: Pick<LoggedEvent, 'type' | 'data'>): boolean {
  if (!event.type.startsWith('TASK_')) return false;
  const task = event.data.task as { status?: unknown } | undefined;
  return task?.status === 'queued';
}
