// Server-Sent Events over fetch(). EventSource cannot send an Authorization header, so the page reads the
// stream itself: a parser that follows the HTML standard's event-stream rules, and a connection that
// reconnects with Last-Event-ID (backing off, or after the server's `retry:`) until it is stopped.

/** The first wait before a reconnect, and the longest. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

/**
 * Turns text chunks (split anywhere) into events `{ id, type, data }`. `lastEventId` is the last `id:` seen,
 * which a reconnect sends back. Pure: no I/O, so it is unit-tested on its own.
 */
export class SseParser {
  #buffer = '';
  #data = [];
  #type = '';
  #id = null;
  #started = false;
  #skipLf = false;

  constructor(onEvent) {
    this.onEvent = onEvent;
    /** The id of the last event dispatched (null until one is): what a reconnect resumes from. */
    this.lastEventId = null;
    /** The reconnection time the server asked for, in ms (null if it did not). */
    this.retryMs = null;
  }

  /** Feeds decoded text. */
  push(text) {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    // A CR ends a line at once; an LF right after it (perhaps in the next chunk) belongs to the same CRLF.
    if (this.#skipLf && text.startsWith('\n')) text = text.slice(1);
    this.#skipLf = false;
    this.#buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start);
      const lf = this.#buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 || (lf !== -1 && lf < cr) ? lf : cr;
      let next = end + 1;
      if (end === cr) {
        if (cr === this.#buffer.length - 1) this.#skipLf = true;
        else if (this.#buffer[cr + 1] === '\n') next = cr + 2;
      }
      this.#line(this.#buffer.slice(start, end));
      start = next;
    }
    this.#buffer = this.#buffer.slice(start);
  }

  /** Forgets a half-received event (the connection dropped); keeps `lastEventId`. */
  reset() {
    this.#buffer = '';
    this.#data = [];
    this.#type = '';
    this.#id = this.lastEventId;
    this.#started = false;
    this.#skipLf = false;
  }

  #line(line) {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.startsWith(':')) return; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data': this.#data.push(value); break;
      case 'event': this.#type = value; break;
      case 'id': if (!value.includes('\0')) this.#id = value; break;
      case 'retry': if (/^\d+$/.test(value)) this.retryMs = Number(value); break;
      default: break; // unknown fields are ignored
    }
  }

  // As the HTML standard has it: the id takes effect at the blank line, even for an event without data.
  #dispatch() {
    this.lastEventId = this.#id;
    const data = this.#data;
    const type = this.#type || 'message';
    this.#data = [];
    this.#type = '';
    if (data.length === 0) return;
    this.onEvent({ id: this.lastEventId, type, data: data.join('\n') });
  }
}

/**
 * One live event stream: `start()` connects and keeps reconnecting (with Last-Event-ID) until `stop()`.
 * `onStatus` hears 'connecting', 'live', 'reconnecting', 'denied' (401/403: stops) and 'stopped'.
 */
export class EventStream {
  #controller = null;
  #stopped = false;
  #parser;

  constructor({ url, authorization, onEvent, onStatus }) {
    this.url = url;
    this.authorization = authorization;
    this.onStatus = onStatus;
    this.#parser = new SseParser(onEvent);
  }

  /** The last event id received (null before the first): what a reconnect resumes from. */
  get lastEventId() {
    return this.#parser.lastEventId;
  }

  start() {
    this.#run();
  }

  stop() {
    this.#stopped = true;
    this.#controller?.abort();
    this.onStatus('stopped');
  }

  async #run() {
    let retryMs = FIRST_RETRY_MS;
    this.onStatus('connecting');
    while (!this.#stopped) {
      this.#controller = new AbortController();
      try {
        const headers = { Authorization: this.authorization, Accept: 'text/event-stream' };
        if (this.#parser.lastEventId !== null) headers['Last-Event-ID'] = this.#parser.lastEventId;
        const response = await fetch(this.url, {
          headers, credentials: 'omit', cache: 'no-store', signal: this.#controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          this.#stopped = true;
          this.onStatus('denied');
          return;
        }
        if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
        this.onStatus('live');
        retryMs = FIRST_RETRY_MS;
        await this.#read(response.body);
      } catch (error) {
        if (this.#stopped) return;
        console.warn('event stream:', error.message);
      }
      if (this.#stopped) return;
      this.#parser.reset();
      this.onStatus('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, this.#parser.retryMs ?? retryMs));
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }

  async #read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      this.#parser.push(value);
    }
  }
}
