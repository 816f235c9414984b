import { describe, expect, it } from 'vitest';
import { MAX_TOPICS_PER_MESSAGE, parseClientMessage } from '../../../src/events/ws-protocol.js';

describe('parseClientMessage', () => {
  it('reads each message type a client may send', () => {
    expect(parseClientMessage('{"type":"SUBSCRIBE","topics":["agents"]}')).toEqual({
      message: { type: 'SUBSCRIBE', topics: ['agents'] },
    });
    expect(parseClientMessage('{"type":"UNSUBSCRIBE","topics":["agents"]}')).toEqual({
      message: { type: 'UNSUBSCRIBE', topics: ['agents'] },
    });
    expect(parseClientMessage('{"type":"PING"}')).toEqual({ message: { type: 'PING' } });
    expect(parseClientMessage('{"type":"PONG"}')).toEqual({ message: { type: 'PONG' } });
  });

  it('answers a frame that is not JSON with INVALID_JSON', () => {
    expect(parseClientMessage('{type:')).toEqual({
      error: 'INVALID_JSON',
      detail: 'The message is not valid JSON',
    });
  });

  it('answers an unknown or missing type with UNKNOWN_TYPE, naming the types it knows', () => {
    expect(parseClientMessage('{"type":"HELLO"}')).toEqual({
      error: 'UNKNOWN_TYPE',
      detail: 'Unknown message type "HELLO"; expected SUBSCRIBE, UNSUBSCRIBE, PING or PONG',
    });
    expect(parseClientMessage('null')).toMatchObject({
      error: 'UNKNOWN_TYPE',
      detail: expect.stringMatching(/^Unknown message type null; /),
    });
    expect(parseClientMessage('{}')).toMatchObject({ error: 'UNKNOWN_TYPE' });
  });

  it('answers a known type with bad fields with INVALID_MESSAGE, naming each field', () => {
    const none = parseClientMessage('{"type":"SUBSCRIBE","topics":[]}');
    expect(none).toMatchObject({ error: 'INVALID_MESSAGE' });
    expect('detail' in none && none.detail).toMatch(/^\/topics: /);
    const topics = Array.from({ length: MAX_TOPICS_PER_MESSAGE + 1 }, () => 'agents');
    const tooMany = parseClientMessage(JSON.stringify({ type: 'UNSUBSCRIBE', topics }));
    expect(tooMany).toMatchObject({ error: 'INVALID_MESSAGE' });
    const both = parseClientMessage('{"type":"SUBSCRIBE","topics":[1,"agents",2]}');
    expect('detail' in both && both.detail.split('; ')).toEqual([
      expect.stringMatching(/^\/topics\/0: /),
      expect.stringMatching(/^\/topics\/2: /),
    ]);
  });
});
