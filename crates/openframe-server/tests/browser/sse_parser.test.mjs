// Unit tests of the workspace's event-stream parser (crates/openframe-http/assets/workspace/sse.js), run with `node --test` by
// crates/openframe-server/tests/workspace_browser.rs. The parser is pure, so no browser is needed.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SseParser } from '../../../openframe-http/assets/workspace/sse.js';

/** Feeds `chunks` to a fresh parser; returns it and the events it dispatched. */
function parse(...chunks) {
  const events = [];
  const parser = new SseParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return { parser, events };
}

const STREAM = 'id: 7\nevent: interaction.created\ndata: {"sysId":"a"}\n\n'
  + ': keep-alive\n\n'
  + 'id: 8\nevent: interaction.updated\ndata: {"sysId":"b"}\n\n';

test('events carry their id, type and data', () => {
  const { parser, events } = parse(STREAM);
  assert.deepEqual(events, [
    { id: '7', type: 'interaction.created', data: '{"sysId":"a"}' },
    { id: '8', type: 'interaction.updated', data: '{"sysId":"b"}' },
  ]);
  assert.equal(parser.lastEventId, '8');
});

test('chunks may split anywhere, even inside a CRLF', () => {
  const crlf = STREAM.replaceAll('\n', '\r\n');
  for (const text of [STREAM, crlf, STREAM.replaceAll('\n', '\r')]) {
    const whole = parse(text).events;
    for (let cut = 0; cut <= text.length; cut += 1) {
      assert.deepEqual(parse(text.slice(0, cut), text.slice(cut)).events, whole, `cut at ${cut}`);
    }
    assert.deepEqual(parse(...text).events, whole, 'one character at a time');
    assert.equal(whole.length, 2);
  }
});

test('an event is dispatched only at its blank line', () => {
  const { events } = parse('id: 1\nevent: interaction.created\ndata: {}\n');
  assert.deepEqual(events, []);
});

test('data lines join with newlines; comments, unknown fields and a leading BOM are ignored', () => {
  const { events } = parse('\uFEFFdata: one\n: comment\nfoo: bar\ndata:two\ndata\n\n');
  assert.deepEqual(events, [{ id: null, type: 'message', data: 'one\ntwo\n' }]);
});

test('an id without data moves the resume point without an event; a NUL id is ignored', () => {
  const { parser, events } = parse('id: 41\n\n', 'id: 4\0 2\n\n');
  assert.deepEqual(events, []);
  assert.equal(parser.lastEventId, '41');
});

test('retry sets the reconnection time only when it is a number', () => {
  const { parser } = parse('retry: 2500\n\nretry: soon\n\n');
  assert.equal(parser.retryMs, 2500);
});

test('reset forgets a half-received event but keeps the resume point', () => {
  const events = [];
  const parser = new SseParser((event) => events.push(event));
  parser.push('id: 5\nevent: interaction.updated\ndata: {"sysId":"a"}\n\nid: 6\nevent: interaction.upd');
  parser.reset();
  parser.push('event: reset\ndata: {"reason":"gap"}\n\n');
  assert.deepEqual(events.map((e) => e.type), ['interaction.updated', 'reset']);
  assert.equal(parser.lastEventId, '5');
});
