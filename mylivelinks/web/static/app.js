// The router: one shell for every page, the page chosen by the path.
import { api, currentUser, updateUser } from "./api.js";
import { loginPage, signupPage } from "./auth.js";
import { leaderboardsPage } from "./leaderboards.js";
import { notificationsPage } from "./notifications.js";
import { startPrivateFeed } from "./private.js";
import { profilePage } from "./profile.js";
import { roomPage } from "./room.js";
import { searchPage } from "./search.js";
import { el, mount, renderNav } from "./ui.js";
import { checkoutPage, walletPage } from "./wallet.js";

const PAGES = {
  "/": roomPage,
  "/login": loginPage,
  "/signup": signupPage,
  "/wallet": walletPage,
  "/leaderboards": leaderboardsPage,
  "/search": searchPage,
  "/notifications": notificationsPage,
  "/checkout/success": () => checkoutPage("success"),
  "/checkout/cancel": () => checkoutPage("cancel"),
};

async function start() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (currentUser()) {
    // The stored profile may be stale (a new role, a new name): the pages read this one.
    await api("/me").then(updateUser).catch(() => {});
  }
  renderNav(path);
  const page = PAGES[path] || (() => profilePage(decodeURIComponent(path.slice(1))));
  try {
    await page();
    if (currentUser()) startPrivateFeed();
    document.body.dataset.ready = "true";
  } catch (error) {
    console.error(error);
    mount(el("h1", {}, "Something went wrong"), el("p", { role: "alert" }, error.message || String(error)));
    document.body.dataset.ready = "error";
  }
}

start();
