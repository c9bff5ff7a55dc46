// Server-Sent Events read with fetch(), so the access token travels in the Authorization
// header (never in a URL) and a stream reopened with a fresh token resumes from the last
// event id it saw, the `id:` the server sends first included: nothing is missed.
import { onSessionChange, refresh, session } from "./api.js";

const DEFAULT_RETRY_MS = 3000;

export class EventFeed {
  constructor(path, handlers, { onState } = {}) {
    this.path = path;
    this.handlers = handlers;
    this.onState = onState || (() => {});
    this.lastEventId = null;
    this.retryMs = DEFAULT_RETRY_MS;
    this.controller = null;
    this.stopped = false;
    this.opens = 0;
    this.token = null;
    this.unsubscribe = onSessionChange((current) => {
      if (!current) this.stop();
      else if (current.access_token !== this.token) this.reopen();
    });
  }

  start() {
    this.stopped = false;
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
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

  // One connection; how long to wait before the next (0: at once).
  async connect() {
    const current = session();
    if (!current) {
      this.stopped = true;
      return 0;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.token = current.access_token;
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${this.token}` };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    let response;
    try {
      response = await fetch(`/api/v1${this.path}`, {
        headers,
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      return controller.signal.aborted ? 0 : this.retryMs;
    }
    if (response.status === 401) {
      this.onState("reconnecting");
      try {
        await refresh();
        return 0;
      } catch {
        return this.retryMs;
      }
    }
    if (!response.ok) {
      this.onState("reconnecting");
      const retryAfter = Number(response.headers.get("Retry-After"));
      return retryAfter > 0 ? retryAfter * 1000 : this.retryMs;
    }
    this.opens += 1;
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
