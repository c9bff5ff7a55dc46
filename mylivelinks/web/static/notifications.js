// The signed-in user's notifications, with the unread count.
import { api } from "./api.js";
import { privateEvents, startPrivateFeed } from "./private.js";
import { el, mount, notificationBadge, profileLink, requireLogin, when } from "./ui.js";

function describe(item) {
  const data = item.data || {};
  if (item.kind === "went_live" && data.streamer) {
    return [profileLink(data.streamer), " went live", data.position ? ` in box ${data.position}` : ""];
  }
  return [item.kind.replace(/_/g, " ")];
}

export async function notificationsPage() {
  if (!requireLogin()) return;
  document.body.dataset.private = "true";
  const list = el("ol.notifications", { "aria-live": "polite" });
  const load = async () => {
    const page = await api("/me/notifications", { query: { limit: 50 } });
    notificationBadge.show(page.unread_count);
    list.replaceChildren(...page.items.map((item) => el("li", { dataset: { read: String(Boolean(item.read_at)) } },
      el("time", { datetime: item.created_at }, when(item.created_at)), " ", describe(item))));
    if (!page.items.length) list.append(el("li.muted", {}, "No notifications yet."));
  };
  const markRead = el("button", {
    type: "button",
    onclick: async () => {
      await api("/me/notifications/read", { method: "POST", body: { up_to: new Date().toISOString() } });
      await load();
    },
  }, "Mark all as read");
  mount(el("h1", {}, "Notifications"), markRead, list);
  await load();
  startPrivateFeed();
  privateEvents.addEventListener("notification", load);
}
