// Search of live streams by name or near me, and the upcoming schedules.
import { api } from "./api.js";
import { explain } from "./chat.js";
import { el, messageArea, mount, profileLink, when } from "./ui.js";

const NEAR_KM = 50;

function streamRow(stream) {
  const where = stream.room === "main" && stream.position
    ? el("a", { href: `/#box-${stream.position}` }, `box ${stream.position}`) : stream.room || "";
  return el("li", {}, profileLink(stream.streamer), " ", stream.title || "", " · ", where,
    stream.distance_km !== undefined && stream.distance_km !== null
      ? ` · ${stream.distance_km.toFixed(1)} km` : "");
}

export async function searchPage() {
  const status = messageArea("Search status");
  const results = el("ul.results", { "aria-live": "polite" });
  const query = el("input", { id: "q", type: "search", placeholder: "Username or title", "aria-label": "Search live streams" });
  const show = async (params) => {
    try {
      const page = await api("/streams", { query: { status: "live", limit: 50, ...params } });
      results.replaceChildren(...page.items.map(streamRow));
      status.show(page.items.length ? "" : "No live stream matches.", "info");
    } catch (error) {
      status.show(explain(error));
    }
  };
  const near = el("button", {
    type: "button",
    onclick: () => {
      if (!navigator.geolocation) {
        status.show("This browser cannot tell where you are.");
        return;
      }
      navigator.geolocation.getCurrentPosition(
        (position) => show({ lat: position.coords.latitude, lng: position.coords.longitude, radius_km: NEAR_KM }),
        () => status.show("Your location is not available."));
    },
  }, `Live near me (${NEAR_KM} km)`);
  const upcoming = el("ul.upcoming");
  mount(el("h1", {}, "Search"),
    el("form.search", { role: "search", onsubmit: (event) => {
      event.preventDefault();
      show({ q: query.value.trim() });
    } }, query, el("button", { type: "submit" }, "Search"), near),
    status, results,
    el("section", {}, el("h2", {}, "Coming up"), upcoming));
  await show({});
  const page = await api("/schedules/upcoming", { query: { limit: 20 } });
  upcoming.replaceChildren(...page.items.map((item) => el("li", {},
    el("time", { datetime: item.starts_at }, when(item.starts_at)), " ", profileLink(item.creator), " ",
    item.title || "", item.live ? " · live now" : item.cancelled ? " · cancelled" : "")));
  if (!page.items.length) upcoming.append(el("li.muted", {}, "Nothing scheduled in the next two weeks."));
}
