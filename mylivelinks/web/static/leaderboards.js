// Leaderboards: streamers and gifters for the day, week, month and all time, kept current.
import { api } from "./api.js";
import { EventFeed } from "./events.js";
import { avatar, el, mount, profileLink, when } from "./ui.js";

const BOARDS = { streamers: "Top streamers", gifters: "Top gifters" };
const PERIODS = { day: "Today", week: "This week", month: "This month", all_time: "All time" };

export async function leaderboardsPage() {
  let period = new URLSearchParams(location.search).get("period") || "day";
  if (!(period in PERIODS)) period = "day";
  const tabs = el("div.tabs", { role: "tablist", "aria-label": "Period" });
  const boards = el("div.boards");
  const render = async () => {
    tabs.replaceChildren(...Object.entries(PERIODS).map(([key, label]) => el("button", {
      type: "button", role: "tab", "aria-selected": String(key === period),
      onclick: () => {
        period = key;
        history.replaceState(null, "", `?period=${key}`);
        render();
      },
    }, label)));
    const results = await Promise.all(Object.keys(BOARDS).map((board) =>
      api(`/leaderboards/${board}`, { query: { period, limit: 100 } })));
    boards.replaceChildren(...results.map((result) => el("section.board", {
      dataset: { board: result.board },
    },
    el("h2", {}, BOARDS[result.board]),
    el("p.muted", {}, result.computed_at ? `Updated ${when(result.computed_at)}` : "Not computed yet."),
    result.items.length ? el("ol", {}, result.items.map((item) => el("li", { value: item.rank },
      el("span.rank", {}, `#${item.rank}`), avatar(item.profile), profileLink(item.profile), el("span.score", {}, ` ${item.score} coins`))))
      : el("p", {}, "Nobody yet."))));
  };
  mount(el("h1", {}, "Leaderboards"), tabs, boards);
  await render();
  new EventFeed("/rooms/main/events", { "leaderboard:updated": () => render() }, {
    ticket: { room: "main" },
    public: true,
  }).start();
}
