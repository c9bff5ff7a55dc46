// The room at `/`: the 6×2 grid, going live and the queue, chat and gifts, all live.
import { api, currentUser } from "./api.js";
import { Chat, explain } from "./chat.js";
import { EventFeed } from "./events.js";
import { GiftPicker, playGift } from "./gifts.js";
import { mediaFor } from "./media.js";
import { privateEvents, startPrivateFeed } from "./private.js";
import { avatar, el, messageArea, mount } from "./ui.js";

const SLUG = "main";
const HEARTBEAT_MS = 12000;
const STREAM_WAIT_MS = 5000; // at most, before the page shows its snapshots anyway // one call every 10-15 s covers every open box
const RELOAD_EVENTS = [
  "box:claimed", "box:released", "box:published", "box:unpublished",
  "stream:started", "stream:ended", "viewer:joined", "viewer:left",
];

class Room {
  constructor() {
    this.user = currentUser();
    this.room = null;
    this.boxes = new Map();
    this.open = new Set();
    this.mine = null; // {position, stream_id} while the user has a box
    this.queuePlace = null;
    this.publishing = null;
    this.heartbeat = null;
    this.reloadTimer = null;
    this.preview = null;
    this.media = null; // the provider's video, once credentials named it
    this.chat = new Chat(SLUG);
    this.gifts = new GiftPicker(SLUG);
    this.grid = el("div.grid", { role: "list", "aria-label": "The room's twelve boxes" });
    this.queueInfo = el("p.queue-info", { id: "queue-length" });
    this.live = el("section.golive", { "aria-labelledby": "golive-title" });
    this.liveStatus = messageArea("Go live status");
  }

  async start() {
    const stage = el("div.stage", {}, this.grid, this.queueInfo,
      this.user ? this.live : el("p.muted", {}, el("a", { href: "/login" }, "Log in"),
        " to open the boxes, chat, send gifts or go live."),
      this.user ? this.gifts.node : null);
    mount(el("h1.visually-hidden", {}, "The room"), el("div.room", {}, stage, this.chat.node));
    for (let position = 1; position <= 12; position++) this.grid.append(this.box(position));
    const handlers = {
      "viewer:count": (data) => this.count(data.position, data.viewer_count),
      "chat:message": (message) => this.chat.add(message),
      "chat:deleted": (data) => this.chat.remove(data.id),
      "gift:sent": (sent) => sent.position && playGift(this.boxes.get(sent.position), sent),
    };
    for (const type of RELOAD_EVENTS) handlers[type] = () => this.scheduleReload();
    // Public: logged-out visitors follow the room live too.
    this.feed = new EventFeed(`/rooms/${SLUG}/events`, handlers, {
      ticket: { room: SLUG },
      public: true,
      onState: (state) => {
        document.body.dataset.roomStream = state;
      },
    }).start();
    if (this.user) {
      startPrivateFeed();
      privateEvents.addEventListener("publish:start", (event) => this.published(event.detail, true));
      privateEvents.addEventListener("publish:stop", (event) => this.published(event.detail, false));
      privateEvents.addEventListener("notification", (event) => {
        if (event.detail.kind === "seated" && event.detail.room === SLUG) {
          this.queuePlace = null;
          this.mine = { position: event.detail.position };
          this.publishing = false;
          this.joinVideo(event.detail.credentials);
          this.renderLive();
          this.scheduleReload();
        }
      });
    }
    // The streams first, then the snapshots: what happens in between arrives as events.
    await this.feed.opened(STREAM_WAIT_MS);
    await Promise.all([this.reload(), this.chat.load(), this.user ? this.gifts.load() : null]);
    if (!this.user) return;
    await this.restorePlace();
    this.renderLive();
  }

  // Where this user already is, after a page reload: back in their box (and its video), or
  // their place in the queue. Read again at each room reload while queued, so the place
  // follows the boxes that free up.
  async restorePlace() {
    let place;
    try {
      place = await api(`/rooms/${SLUG}/live`);
    } catch (error) {
      if (error.status !== 404) this.liveStatus.show(explain(error));
      this.queuePlace = null;
      return;
    }
    if (place.queued) {
      this.queuePlace = place.queue_position;
    } else if (!this.mine || !this.media) {
      this.queuePlace = null;
      this.mine = { position: place.box.position, stream_id: place.stream.id };
      this.publishing = Boolean(place.box.is_published);
      this.joinVideo(place.credentials);
    }
  }

  box(position) {
    const node = el("section.box", {
      id: `box-${position}`, role: "listitem", "aria-label": `Box ${position}`,
      dataset: { position, state: "empty" },
    },
    el("div.media", { "aria-live": "off", dataset: { position } }),
    el("div.info"),
    el("div.gift-layer"));
    this.boxes.set(position, node);
    return node;
  }

  scheduleReload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reload().catch(() => {}), 100);
  }

  async reload() {
    this.room = await api(`/rooms/${SLUG}`);
    const mine = this.room.boxes.find((box) => box.stream && this.user &&
      box.stream.streamer.id === this.user.id);
    if (mine) {
      if (!this.mine || this.mine.position !== mine.position) this.publishing = mine.is_published;
      this.mine = { position: mine.position, stream_id: mine.stream.id };
      this.queuePlace = null;
    } else if (this.mine) {
      this.mine = null;
      this.publishing = null;
    }
    for (const box of this.room.boxes) {
      if (!box.stream) this.open.delete(box.position); // its stream ended: nothing to watch
      this.renderBox(box);
    }
    const full = this.room.boxes.every((box) => box.stream);
    this.queueInfo.textContent = full || this.room.queue_length
      ? `The room is full: ${this.room.queue_length} waiting in the queue.` : "";
    this.queueInfo.dataset.queueLength = this.room.queue_length;
    this.gifts.setBoxes(this.room.boxes);
    this.syncHeartbeat();
    if (this.queuePlace) await this.restorePlace();
    if (this.user) this.renderLive();
  }

  renderBox(box) {
    const node = this.boxes.get(box.position);
    const stream = box.stream;
    const state = !stream ? "empty" : box.is_published ? "published" : "live";
    node.dataset.state = state;
    node.dataset.viewers = box.viewer_count;
    const isOpen = this.open.has(box.position);
    const media = node.querySelector(".media");
    const info = node.querySelector(".info");
    if (!stream) {
      media.replaceChildren(el("p.placeholder", {}, "Free box"));
      info.replaceChildren(el("span.position", {}, `Box ${box.position}`));
      return;
    }
    const own = this.mine && this.mine.position === box.position;
    const label = box.is_published ? "Published: video is on" : "Live, not published: no viewers yet";
    if (!media.querySelector("video")) { // a camera preview or the provider's video plays
      media.replaceChildren(el("p.placeholder", { dataset: { state } },
        el("span.state-dot", { "aria-hidden": "true" }), label,
        isOpen ? el("span.watching", {}, " · you are watching") : null,
        this.media && this.media.note ? el("span.video-note", {}, this.media.note) : null));
    }
    const streamer = stream.streamer;
    const who = el("div.who", {},
      avatar(streamer),
      el("a.profile-link", { href: `/${streamer.username}` }, streamer.display_name || streamer.username));
    const facts = el("div.facts", {},
      el("span.viewers", { "aria-label": `${box.viewer_count} watching` }, `👁 ${box.viewer_count}`),
      el("span.state", {}, box.is_published ? "published" : "live"));
    const children = [who, facts];
    if (this.user && !own) {
      facts.append(el("button.open-box", {
        type: "button", "aria-pressed": String(isOpen),
        onclick: () => (isOpen ? this.closeBox(box.position) : this.openBox(box.position)),
      }, isOpen ? "Close" : "Open"));
      facts.append(el("button.gift-box", {
        type: "button", onclick: () => this.gifts.choose(box.position),
        "aria-label": `Send a gift to box ${box.position}`,
      }, "🎁"));
    }
    info.replaceChildren(...children);
  }

  count(position, viewers) {
    const node = this.boxes.get(position);
    if (!node || !this.room) return;
    const box = this.room.boxes.find((item) => item.position === position);
    if (box) {
      box.viewer_count = viewers;
      this.renderBox(box);
    }
    if (this.mine && this.mine.position === position) this.renderLive();
  }

  streamerAt(position) {
    const box = this.room && this.room.boxes.find((item) => item.position === position);
    return box && box.stream ? box.stream.streamer.id : null;
  }

  async openBox(position) {
    try {
      const result = await api(`/rooms/${SLUG}/boxes/${position}/viewers`, { method: "POST" });
      this.open.add(position);
      this.liveStatus.show("");
      this.watchVideo(position, result.credentials);
    } catch (error) {
      this.liveStatus.show(explain(error));
    }
    this.syncHeartbeat();
    await this.reload();
  }

  async closeBox(position) {
    const streamer = this.streamerAt(position);
    if (this.media && streamer) this.media.unwatch(streamer);
    try {
      await api(`/rooms/${SLUG}/boxes/${position}/viewers`, { method: "DELETE" });
    } catch (error) {
      this.liveStatus.show(explain(error));
    }
    this.open.delete(position);
    this.syncHeartbeat();
    await this.reload();
  }

  syncHeartbeat() {
    const needed = this.open.size > 0 || Boolean(this.mine);
    if (needed && !this.heartbeat) {
      this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    } else if (!needed && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  async beat() {
    try {
      await api(`/rooms/${SLUG}/heartbeat`, { method: "POST", body: { positions: [...this.open] } });
    } catch {
      // the next beat tries again; the timeouts are several beats long
    }
  }

  published(detail, allowed) {
    if (detail.room !== SLUG) return;
    this.publishing = allowed;
    this.renderLive();
    // Demand-based publishing: the camera goes out only between publish:start and :stop.
    if (this.media) {
      const change = allowed ? this.media.startPublishing() : this.media.stopPublishing();
      change.catch((error) => this.liveStatus.show(`Video: ${error.message}`));
    }
  }

  async useMedia(credentials) {
    this.media = await mediaFor(credentials.provider);
    return this.media;
  }

  async watchVideo(position, credentials) {
    const media = await this.useMedia(credentials);
    const streamer = this.streamerAt(position);
    if (!streamer) return;
    try {
      await media.watch(streamer, this.boxes.get(position).querySelector(".media"), credentials);
    } catch (error) {
      this.liveStatus.show(`Video could not start: ${error.message}`);
    }
  }

  async joinVideo(credentials) {
    if (!credentials) return;
    const media = await this.useMedia(credentials);
    try {
      await media.join(credentials);
      if (this.publishing) await media.startPublishing();
    } catch (error) {
      this.liveStatus.show(`Video could not start: ${error.message}`);
    }
  }

  async goLive(title) {
    try {
      const result = await api(`/rooms/${SLUG}/live`, { method: "POST", body: title ? { title } : {} });
      if (result.queued) {
        this.queuePlace = result.queue_position;
      } else {
        this.mine = { position: result.box.position, stream_id: result.stream.id };
        this.publishing = Boolean(result.box.is_published);
        this.joinVideo(result.credentials);
      }
      this.liveStatus.show("");
    } catch (error) {
      this.liveStatus.show(explain(error));
    }
    this.syncHeartbeat();
    this.renderLive();
    await this.reload();
  }

  async endLive() {
    try {
      await api(`/rooms/${SLUG}/live`, { method: "DELETE" });
    } catch (error) {
      this.liveStatus.show(explain(error));
    }
    this.mine = null;
    this.queuePlace = null;
    this.publishing = null;
    this.stopPreview();
    if (this.media) this.media.stopPublishing().catch(() => {});
    this.syncHeartbeat();
    await this.reload();
  }

  async togglePreview() {
    if (this.preview) {
      this.stopPreview();
    } else {
      try {
        this.preview = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
      } catch {
        this.liveStatus.show("This browser did not allow the camera; the box shows its state instead.");
        return;
      }
      const video = el("video.preview", { autoplay: true, muted: true, playsinline: true,
        "aria-label": "Your camera preview" });
      video.srcObject = this.preview;
      this.boxes.get(this.mine.position).querySelector(".media").replaceChildren(video);
    }
    this.renderLive();
  }

  stopPreview() {
    if (!this.preview) return;
    for (const track of this.preview.getTracks()) track.stop();
    for (const video of this.grid.querySelectorAll("video.preview")) video.remove();
    this.preview = null;
    this.scheduleReload();
  }

  renderLive() {
    const box = this.mine && this.room && this.room.boxes.find((item) => item.position === this.mine.position);
    const key = JSON.stringify([this.mine && this.mine.position, this.publishing, this.queuePlace,
      box && box.viewer_count, Boolean(this.preview), this.liveStatus.textContent]);
    if (key === this.liveKey) return;
    this.liveKey = key;
    const children = [el("h2", { id: "golive-title" }, "Go live")];
    if (this.mine) {
      const viewers = box ? box.viewer_count : 0;
      const state = this.publishing ? "publishing" : "not-publishing";
      children.push(
        el("p", { id: "my-box" }, `You are live in box ${this.mine.position}.`),
        el("p.publish-state", { id: "publish-state", dataset: { state } },
          this.publishing ? "● Publishing: your viewers see you." :
            "○ Not publishing: your camera stays off until someone opens your box."),
        el("p", { id: "my-viewers" }, `${viewers} watching`),
        el("div.actions", {},
          el("button", { type: "button", id: "end-live", onclick: () => this.endLive() }, "End stream"),
          el("button", { type: "button", onclick: () => this.togglePreview() },
            this.preview ? "Hide camera preview" : "Show camera preview")));
    } else if (this.queuePlace) {
      children.push(
        el("p", { id: "queue-place", dataset: { place: this.queuePlace } },
          `The room is full: you are number ${this.queuePlace} in the queue, and get the next free box.`),
        el("button", { type: "button", onclick: () => this.endLive() }, "Leave the queue"));
    } else {
      const title = el("input", { id: "live-title", maxlength: "140", placeholder: "Title (optional)",
        "aria-label": "Stream title" });
      children.push(el("form.golive-form", {
        onsubmit: (event) => {
          event.preventDefault();
          this.goLive(title.value.trim());
        },
      }, title, el("button", { type: "submit", id: "go-live" }, "Go live")));
    }
    children.push(this.liveStatus);
    this.live.replaceChildren(...children);
  }
}

export async function roomPage() {
  await new Room().start();
}
