// A profile at `/<username>`: bio, links, follow button, counts, live status, ranks, gifts.
import { api, ApiError, currentUser } from "./api.js";
import { explain } from "./chat.js";
import { avatar, el, messageArea, mount, when } from "./ui.js";

const BOARDS = ["streamers", "gifters"];
const PERIODS = ["day", "week", "month", "all_time"];

async function liveBox(username) {
  const streams = await api(`/profiles/${username}/streams`, { query: { limit: 1 } });
  const latest = streams.items[0];
  if (!latest || latest.status !== "live") return null;
  return latest;
}

export async function profilePage(username) {
  let profile;
  try {
    profile = await api(`/profiles/${username}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      mount(el("h1", {}, "No such profile"), el("p", {}, `Nobody is called ${username} here.`));
      return;
    }
    throw error;
  }
  document.title = `${profile.display_name || profile.username} · MyLiveLinks`;
  const user = currentUser();
  const status = messageArea("Follow status");
  const followers = el("span", { id: "follower-count" }, String(profile.follower_count));
  const follow = el("button", { type: "button", id: "follow", hidden: true });
  const setFollowing = (state) => {
    follow.hidden = false;
    follow.dataset.following = state.following;
    follow.setAttribute("aria-pressed", String(state.following));
    follow.textContent = state.following ? "Unfollow" : "Follow";
    followers.textContent = String(state.follower_count);
  };
  follow.addEventListener("click", async () => {
    const following = follow.dataset.following === "true";
    try {
      setFollowing(await api(`/profiles/${profile.username}/follow`,
        { method: following ? "DELETE" : "POST" }));
    } catch (error) {
      status.show(explain(error));
    }
  });
  if (user && user.username !== profile.username) {
    api(`/profiles/${profile.username}/follow`).then(setFollowing).catch(() => {});
  }
  const live = await liveBox(profile.username).catch(() => null);
  const liveStatus = live
    ? el("p.live-status", { id: "live-status", dataset: { live: "true" } }, "● Live now",
      live.room === "main" && live.position
        ? [" in ", el("a", { href: `/#box-${live.position}` }, `box ${live.position} of the room`)]
        : live.room ? ` in room ${live.room}` : "")
    : el("p.live-status", { id: "live-status", dataset: { live: "false" } }, "Not live right now.");
  const ranks = profile.leaderboard_ranks || {};
  const rankTable = el("table.ranks", {},
    el("caption", {}, "Leaderboard ranks"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Board"),
      PERIODS.map((period) => el("th", { scope: "col" }, period.replace("_", " "))))),
    el("tbody", {}, BOARDS.map((board) => el("tr", {}, el("th", { scope: "row" }, board),
      PERIODS.map((period) => {
        const rank = ranks[board] && ranks[board][period];
        return el("td", {}, rank ? `#${rank}` : "—");
      })))));
  const links = (profile.links || []).map((link) =>
    el("li", {}, el("a", { href: link.url, rel: "noopener noreferrer nofollow" }, link.title)));
  mount(el("article.profile", {},
    el("header.profile-head", {}, avatar(profile, "large"),
      el("div", {}, el("h1", {}, profile.display_name || profile.username),
        el("p.muted", {}, `@${profile.username} · joined ${when(profile.created_at)}`), liveStatus),
      follow),
    status,
    profile.bio ? el("p.bio", {}, profile.bio) : null,
    el("ul.counts", {},
      el("li", {}, followers, " followers"),
      el("li", {}, `${profile.following_count} following`),
      el("li", { id: "gifts-received" }, `${profile.gifts_received_coins} coins of gifts received`),
      el("li", { id: "gifts-sent" }, `${profile.gifts_sent_coins} coins of gifts sent`)),
    links.length ? el("section", {}, el("h2", {}, "Links"), el("ul.links", {}, links)) : null,
    rankTable));
}
