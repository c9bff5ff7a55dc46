// Server-Sent Events read with fetch(). A signed-in page opens each stream with a
// single-use event ticket (POST /events/tickets, got with the current access token, so no
// token is ever in a URL); a room's public stream needs none when logged out. When a stream
// ends (SSE_MAX_SECONDS, a network break, a restart) it is reopened with a new ticket and
// `Last-Event-ID` set to the last id seen, the `id:` the server sends first included, so
// nothing is missed and nothing comes twice.
import { api, ApiError, onSessionChange, session } from "./api.js";

const DEFAULT_RETRY_MS = 3000;

export class EventFeed {
  // `ticket`: the body of POST /events/tickets for this stream ({room} or {} for /me/events);
  // `public`: the stream may be read without signing in.
  constructor(path, handlers, { onState, ticket = {}, public: open = false } = {}) {
    this.path = path;
    this.ticket = ticket;
    this.public = open;
    this.handlers = handlers;
    this.onState = onState || (() => {});
    this.lastEventId = null;
    this.retryMs = DEFAULT_RETRY_MS;
    this.controller = null;
    this.stopped = false;
    this.opens = 0;
    this.firstOpen = new Promise((resolve) => {
      this.markOpen = resolve;
    });
    this.signedIn = Boolean(session());
    this.unsubscribe = onSessionChange((current) => {
      if (Boolean(current) === this.signedIn) return; // a refreshed token: the stream goes on
      this.signedIn = Boolean(current);
      if (!current && !this.public) this.stop();
      else this.reopen();
    });
  }

  start() {
    this.stopped = false;
    this.run();
    return this;
  }

  // Resolves once the first connection is open (or after `timeoutMs`): a snapshot read
  // from the REST API after that misses no event, since the stream starts before it.
  opened(timeoutMs) {
    return Promise.race([this.firstOpen, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
  }

  stop() {
    this.stopped = true;
    this.markOpen();
    if (this.controller) this.controller.abort();
    this.onState("closed");
  }

  close() {
    this.stop();
    this.unsubscribe();
  }

  reopen() {
    if (this.stopped) return;
    if (this.controller) this.controller.abort(); // run() sees the abort and reconnects
  }

  async run() {
    while (!this.stopped) {
      const wait = await this.connect();
      if (this.stopped) break;
      if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // The URL of the next connection: a new ticket's when signed in, else the public path.
  async streamUrl() {
    if (!session()) return this.public ? `/api/v1${this.path}` : null;
    const ticket = await api("/events/tickets", { method: "POST", body: this.ticket });
    return ticket.url;
  }

  // One connection; how long to wait before the next (0: at once).
  async connect() {
    const controller = new AbortController();
    this.controller = controller;
    let url;
    try {
      url = await this.streamUrl();
    } catch (error) {
      this.onState("reconnecting");
      return error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : this.retryMs;
    }
    if (!url) {
      this.stopped = true;
      return 0;
    }
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    let response;
    try {
      response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
    } catch {
      return controller.signal.aborted ? 0 : this.retryMs;
    }
    if (response.status === 401) {
      this.onState("reconnecting");
      return 0; // a spent or expired ticket: the next one comes with a fresh token
    }
    if (!response.ok) {
      this.onState("reconnecting");
      const retryAfter = Number(response.headers.get("Retry-After"));
      return retryAfter > 0 ? retryAfter * 1000 : this.retryMs;
    }
    this.opens += 1;
    this.markOpen();
    this.onState("open");
    try {
      await this.read(response.body, controller.signal);
    } catch {
      // aborted or dropped: reconnect below
    }
    if (controller.signal.aborted) return 0;
    this.onState("reconnecting");
    return this.retryMs;
  }

  async read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.dispatch(block);
      }
    }
  }

  dispatch(block) {
    let type = "message";
    const data = [];
    let id = null;
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "id") id = value;
      else if (name === "event") type = value;
      else if (name === "data") data.push(value);
      else if (name === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    if (id !== null) this.lastEventId = id;
    if (!data.length) return;
    const handler = this.handlers[type] || this.handlers["*"];
    if (!handler) return;
    let payload;
    try {
      payload = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    try {
      handler(payload, type, id);
    } catch (error) {
      console.error("event handler failed", type, error);
    }
  }
}
