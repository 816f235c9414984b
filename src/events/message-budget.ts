/**
 * A token bucket for the control messages of one WebSocket: `burst` messages at once, refilled at
 * `perSecond`. A client past it is closed (docs/events.md), so no socket can make the server
 * spend without bound on SUBSCRIBE, UNSUBSCRIBE or PING.
 */
export class MessageBudget {
  #tokens: number;
  #refilledAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#refilledAt = now();
  }

  /** Takes one message from the budget; false when none is left. */
  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(
      this.burst,
      this.#tokens + ((now - this.#refilledAt) / 1_000) * this.perSecond,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
