// The room's chat: history for late joiners, live lines, and the moderators' menu.
import { api, ApiError, currentUser } from "./api.js";
import { el, messageArea, when } from "./ui.js";

const STAFF = new Set(["moderator", "admin"]);
const TIMEOUT_SECONDS = 300;

export function explain(error) {
  if (!(error instanceof ApiError)) return "Network error: try again.";
  if (error.status === 429 && error.retryAfter) {
    return `${error.message} Try again in ${error.retryAfter} s.`;
  }
  return error.message;
}

export class Chat {
  constructor(slug) {
    this.slug = slug;
    this.list = el("ol.chat-lines", { "aria-label": "Chat messages", "aria-live": "polite" });
    this.status = messageArea("Chat status");
    this.input = el("input", {
      id: "chat-input", name: "body", maxlength: "500", autocomplete: "off",
      placeholder: "Say something…", "aria-label": "Chat message",
    });
    const user = currentUser();
    const form = el("form.chat-form", { onsubmit: (event) => this.send(event) },
      this.input, el("button", { type: "submit" }, "Send"));
    this.node = el("section.chat", { "aria-labelledby": "chat-title" },
      el("h2", { id: "chat-title" }, "Chat"), this.list, this.status,
      user ? form : el("p.muted", {}, el("a", { href: "/login" }, "Log in"), " to chat."));
  }

  // History goes above the lines that arrived live meanwhile.
  async load() {
    const page = await api(`/rooms/${this.slug}/chat`, { query: { limit: 50 } });
    const firstLive = this.list.firstElementChild;
    for (const message of page.items.reverse()) this.add(message, firstLive);
  }

  add(message, before = null) {
    if (this.list.querySelector(`[data-id="${message.id}"]`)) return;
    const author = message.author;
    const line = el("li.chat-line", { dataset: { id: message.id, kind: message.kind } },
      author ? el("a.author", { href: `/${author.username}` }, author.username) : null,
      el("span.body", {}, message.body),
      el("time", { datetime: message.created_at, title: when(message.created_at) },
        message.created_at ? new Date(message.created_at).toLocaleTimeString() : ""),
      this.menu(message));
    this.list.insertBefore(line, before);
    while (this.list.children.length > 300) this.list.firstElementChild.remove();
    this.list.scrollTop = this.list.scrollHeight;
  }

  remove(id) {
    const line = this.list.querySelector(`[data-id="${id}"]`);
    if (line) line.remove();
  }

  menu(message) {
    const user = currentUser();
    if (!user || message.kind !== "user" || !message.author) return null;
    const staff = STAFF.has(user.role);
    const own = message.author.id === user.id;
    const action = (label, run) => el("button", { type: "button", onclick: run }, label);
    const actions = [];
    if (staff || own) actions.push(action("Delete", () => this.act(() =>
      api(`/rooms/${this.slug}/chat/${message.id}`, { method: "DELETE" }), "Message deleted.")));
    if (staff && !own) {
      const target = message.author.username;
      actions.push(action("Time out 5 min", () => this.act(() => api(`/rooms/${this.slug}/bans`, {
        method: "POST",
        body: { username: target, duration_seconds: TIMEOUT_SECONDS, reason: "Timed out from chat" },
      }), `${target} is timed out for 5 minutes.`)));
      actions.push(action("Ban from room", () => this.act(() => api(`/rooms/${this.slug}/bans`, {
        method: "POST", body: { username: target, reason: "Banned from chat" },
      }), `${target} is banned from the room.`)));
    }
    if (!own) actions.push(action("Report", () => this.act(() => api("/reports", {
      method: "POST", body: { target_type: "message", target_id: message.id, reason: "Reported from chat" },
    }), "Thanks: the moderators will look at it.")));
    if (!actions.length) return null;
    return el("details.menu", {},
      el("summary", { "aria-label": `Actions for the message of ${message.author.username}` }, "⋯"),
      el("div.menu-items", {}, actions));
  }

  async act(run, done) {
    try {
      await run();
      this.status.show(done, "info");
    } catch (error) {
      this.status.show(explain(error));
    }
  }

  async send(event) {
    event.preventDefault();
    const body = this.input.value.trim();
    if (!body) return;
    try {
      const message = await api(`/rooms/${this.slug}/chat`, { method: "POST", body: { body } });
      this.input.value = "";
      this.status.show("");
      this.add(message);
    } catch (error) {
      this.status.show(explain(error));
    }
  }
}
