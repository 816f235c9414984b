/** IPC messages between the orchestrator and the WebSocket client process (bench/ws-clients.ts). */
import type { Summary } from './stats.js';

/** How the client process makes the server emit one frame to every client. */
export type Trigger =
  | { kind: 'service'; baseUrl: string; projectId: string; headers: Record<string, string> }
  | { kind: 'baseline'; baseUrl: string; frameBytes: number; headers: Record<string, string> };

export type ClientCommand =
  | {
      cmd: 'open';
      url: string;
      headers: Record<string, string>;
      count: number;
      concurrency: number;
      timeoutMs: number;
    }
  /** `count` writes one at a time; `record: false` for warm-up writes. */
  | {
      cmd: 'write';
      trigger: Trigger;
      count: number;
      record: boolean;
      gapMs: number;
      timeoutPerWriteMs: number;
    }
  | { cmd: 'summary' }
  | { cmd: 'closeAll'; timeoutMs: number };

export interface OpenReply {
  cmd: 'open';
  opened: number;
  failed: number;
  total: number;
  ms: number;
  firstError?: string;
}

export interface WriteReply {
  cmd: 'write';
  written: number;
  /** Size of the frames received (the service's event frame). */
  frameBytes: number;
}

/** Percentiles of the recorded writes since the previous summary. */
export interface BroadcastReply {
  cmd: 'summary';
  clients: number;
  writes: number;
  frameBytes: number;
  /** Every (write, client) pair: receipt time − time just before the write was sent, ms. */
  e2e: Summary;
  /** Per write: the last client's receipt − send time, ms (how long the whole fan-out took). */
  lastReceipt: Summary;
  /**
   * Every (write, client) pair: receipt − the first client's receipt of that write, ms (the fan-out
   * alone).
   */
  spread: Summary;
  /** Per write: HTTP response of the write − send time, ms. */
  response: Summary;
  /** Expected receipts that did not arrive within the per-write timeout. */
  missing: number;
  /** Sockets the server closed during the run (should be 0). */
  unexpectedCloses: number;
}

export interface CloseReply {
  cmd: 'closeAll';
  closed: number;
  ms: number;
}

export type ClientReply =
  OpenReply | WriteReply | BroadcastReply | CloseReply | { cmd: 'error'; message: string };
