import { afterEach, describe, expect, it, vi } from 'vitest';
import { platformSocket } from '../../../src/client/stream-socket.js';

/** Records the URL each socket was opened with, as a browser's WebSocket would be given it. */
class RecordingSocket {
  static opened: string[] = [];
  constructor(readonly url: string) {
    RecordingSocket.opened.push(url);
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
  RecordingSocket.opened = [];
});

describe('platformSocket', () => {
  it("opens the platform's WebSocket with the key as the token query parameter", () => {
    vi.stubGlobal('WebSocket', RecordingSocket);
    const url = new URL('ws://127.0.0.1:3000/ws?topics=projects');
    const socket = platformSocket(url, 'sc_secret');
    expect(socket).toBeInstanceOf(RecordingSocket);
    expect(RecordingSocket.opened).toEqual([
      'ws://127.0.0.1:3000/ws?topics=projects&token=sc_secret',
    ]);
    expect(url.search).toBe('?topics=projects');
  });

  it('adds no token without a key', () => {
    vi.stubGlobal('WebSocket', RecordingSocket);
    platformSocket(new URL('ws://127.0.0.1:3000/ws'), undefined);
    expect(RecordingSocket.opened).toEqual(['ws://127.0.0.1:3000/ws']);
  });

  it('says what to do in a runtime without a WebSocket', () => {
    vi.stubGlobal('WebSocket', undefined);
    expect(() => platformSocket(new URL('ws://127.0.0.1:3000/ws'), 'sc_secret')).toThrow(
      'No WebSocket in this runtime: use the Node entry of the client, or pass socketFactory',
    );
  });
});
