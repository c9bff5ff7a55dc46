// Small DOM helpers shared by the pages, and the navigation bar.
import { api, currentUser, logout, onSessionChange } from "./api.js";

// el("a.link", {href: "/"}, "text", child): an element with classes, attributes, children.
export function el(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function mount(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
  return main;
}

export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}

export function coins(centicoins) {
  return (centicoins / 100).toFixed(2);
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function avatar(profile, size = "small") {
  const name = profile.display_name || profile.username;
  if (profile.avatar_url) {
    return el(`img.avatar.${size}`, { src: profile.avatar_url, alt: `${name}'s avatar` });
  }
  return el(`span.avatar.${size}`, { role: "img", "aria-label": `${name}'s avatar` },
    name.slice(0, 1).toUpperCase());
}

export function profileLink(profile) {
  return el("a.profile-link", { href: `/${profile.username}` },
    profile.display_name || profile.username);
}

// A status line that shows an ApiError (or any text) plainly, in an alert region.
export function messageArea(label) {
  const node = el("p.message", { role: "status", "aria-label": label });
  node.show = (text, kind = "error") => {
    node.textContent = text || "";
    node.dataset.kind = kind;
  };
  return node;
}

export function requireLogin() {
  if (currentUser()) return true;
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}`);
  return false;
}

// The wallet summary in the navigation bar, kept current by the pages.
export const walletBadge = {
  node: el("a.wallet-badge", { href: "/wallet", "aria-label": "Wallet" }),
  show(wallet) {
    this.node.dataset.coins = wallet.coin_balance;
    this.node.dataset.centicoins = wallet.earnings_balance_centicoins;
    this.node.replaceChildren(
      el("span.coins", {}, `🪙 ${wallet.coin_balance}`),
      el("span.earnings", {}, ` · earned ${coins(wallet.earnings_balance_centicoins)}`),
    );
  },
  async refresh() {
    if (!currentUser()) return;
    try {
      this.show(await api("/me/wallet"));
    } catch {
      // shown again at the next update
    }
  },
};

export const notificationBadge = {
  node: el("a.notification-badge", { href: "/notifications" }, "Notifications"),
  count: 0,
  show(count) {
    this.count = count;
    this.node.replaceChildren("Notifications", count ? el("span.badge", {}, String(count)) : "");
    this.node.setAttribute("aria-label", `Notifications, ${count} unread`);
  },
  async refresh() {
    if (!currentUser()) return;
    try {
      this.show((await api("/me/notifications", { query: { limit: 1 } })).unread_count);
    } catch {
      // shown again at the next update
    }
  },
};

export function renderNav(active) {
  const nav = document.getElementById("nav");
  const user = currentUser();
  const link = (href, text) =>
    el("a", { href, "aria-current": active === href ? "page" : null }, text);
  const items = [link("/", "Room"), link("/leaderboards", "Leaderboards"), link("/search", "Search")];
  if (user) {
    items.push(walletBadge.node, notificationBadge.node, link(`/${user.username}`, user.username));
    items.push(el("button.link", {
      type: "button",
      onclick: async () => {
        await logout();
        location.assign("/");
      },
    }, "Log out"));
    walletBadge.refresh();
    notificationBadge.refresh();
  } else {
    items.push(link("/login", "Log in"), link("/signup", "Sign up"));
  }
  nav.replaceChildren(...items);
}

onSessionChange((current) => {
  if (!current && document.body.dataset.private === "true") location.assign("/login");
});
