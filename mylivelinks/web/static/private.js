// The signed-in user's private event stream (/me/events), shared by every page.
import { currentUser } from "./api.js";
import { EventFeed } from "./events.js";
import { notificationBadge, walletBadge } from "./ui.js";

const TYPES = ["publish:start", "publish:stop", "gift:received", "coins:credited", "notification"];
export const privateEvents = new EventTarget();
let feed = null;

export function startPrivateFeed() {
  if (feed || !currentUser()) return feed;
  const handlers = {};
  for (const type of TYPES) {
    handlers[type] = (data) => privateEvents.dispatchEvent(new CustomEvent(type, { detail: data }));
  }
  feed = new EventFeed("/me/events", handlers).start();
  return feed;
}

privateEvents.addEventListener("gift:received", () => walletBadge.refresh());
privateEvents.addEventListener("coins:credited", () => walletBadge.refresh());
privateEvents.addEventListener("notification", (event) => {
  if (event.detail.kind !== "seated") notificationBadge.show(notificationBadge.count + 1);
});
