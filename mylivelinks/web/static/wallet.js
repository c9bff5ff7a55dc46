// The wallet: balances and debt, the ledger, coin packs and Stripe Checkout, purchases.
import { api } from "./api.js";
import { explain } from "./chat.js";
import { privateEvents, startPrivateFeed } from "./private.js";
import { coins, el, messageArea, mount, requireLogin, walletBadge, when } from "./ui.js";

function money(cents, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() })
    .format(cents / 100);
}

function pager(path, row, label) {
  const body = el("tbody");
  const more = el("button", { type: "button", hidden: true }, `More ${label}`);
  let cursor = null;
  const load = async (reset) => {
    if (reset) {
      cursor = null;
      body.replaceChildren();
    }
    const page = await api(path, { query: { limit: 20, cursor } });
    body.append(...page.items.map(row));
    if (!body.children.length) body.append(el("tr", {}, el("td.muted", { colspan: "4" }, "Nothing yet.")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener("click", () => load(false));
  return { body, more, load };
}

export async function walletPage() {
  if (!requireLogin()) return;
  document.body.dataset.private = "true";
  const status = messageArea("Wallet status");
  const balances = el("dl.balances", { id: "balances" });
  const showWallet = async () => {
    const wallet = await api("/me/wallet");
    walletBadge.show(wallet);
    balances.dataset.coins = wallet.coin_balance;
    balances.dataset.centicoins = wallet.earnings_balance_centicoins;
    balances.replaceChildren(
      el("dt", {}, "Coins"), el("dd", { id: "coin-balance" }, String(wallet.coin_balance)),
      el("dt", {}, "Earnings"), el("dd", { id: "earnings" }, coins(wallet.earnings_balance_centicoins)),
      el("dt", {}, "Debt"), el("dd", { id: "debt" }, String(wallet.debt_coins)));
    if (wallet.frozen) {
      balances.append(el("dd.frozen", { id: "frozen" },
        "Spending is frozen: a refunded or charged-back purchase left a debt of " +
        `${wallet.debt_coins} coins. Your next purchase pays it back first.`));
    }
  };
  const ledger = pager("/me/ledger", (entry) => el("tr", {},
    el("td", {}, when(entry.created_at)), el("td", {}, entry.kind), el("td", {}, entry.account),
    el("td.number", {}, coins(entry.amount_centicoins))), "entries");
  const purchases = pager("/coins/purchases", (purchase) => el("tr", {},
    el("td", {}, when(purchase.created_at)), el("td", {}, `${purchase.coins} coins`),
    el("td", {}, money(purchase.price_cents, purchase.currency)), el("td", {}, purchase.status)),
  "purchases");
  const packs = el("ul.packs");
  const buy = async (pack) => {
    try {
      const result = await api("/coins/checkout", {
        method: "POST", body: { pack_id: pack.id },
        headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      location.assign(result.checkout_url);
    } catch (error) {
      status.show(error.status === 503 ? "Buying coins is not available here: no payment provider is configured." : explain(error));
    }
  };
  const table = (caption, heads, part) => el("section", {},
    el("table", {}, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, heads.map((head) => el("th", { scope: "col" }, head)))), part.body),
    part.more);
  mount(el("h1", {}, "Wallet"), balances, status,
    el("section", {}, el("h2", {}, "Buy coins"), packs),
    table("Purchases", ["When", "Coins", "Price", "Status"], purchases),
    table("Ledger", ["When", "Kind", "Account", "Amount"], ledger));
  const packList = (await api("/coins/packs", { query: { platform: "web" } })).items;
  packs.replaceChildren(...packList.map((pack) => el("li", {},
    el("button", { type: "button", onclick: () => buy(pack) },
      `${pack.coins} coins · ${money(pack.price_cents, pack.currency)}`))));
  await Promise.all([showWallet(), ledger.load(true), purchases.load(true)]);
  startPrivateFeed();
  const changed = () => Promise.all([showWallet(), ledger.load(true), purchases.load(true)]);
  privateEvents.addEventListener("coins:credited", changed);
  privateEvents.addEventListener("gift:received", changed);
}

export async function checkoutPage(outcome) {
  if (outcome === "cancel") {
    mount(el("h1", {}, "Purchase cancelled"), el("p", {}, "Nothing was charged. ",
      el("a", { href: "/wallet" }, "Back to the wallet")));
    return;
  }
  const note = el("p", { id: "checkout-state" }, "Payment received: your coins appear as soon as the payment is confirmed.");
  mount(el("h1", {}, "Thank you"), note, el("a", { href: "/wallet" }, "Open the wallet"));
  startPrivateFeed();
  privateEvents.addEventListener("coins:credited", (event) => {
    note.textContent = `${event.detail.coins || "Your"} coins are in your wallet.`;
    walletBadge.refresh();
  });
}
