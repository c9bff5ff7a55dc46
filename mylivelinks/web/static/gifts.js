// The gift picker (catalog, quantity, target box) and the animations every viewer sees.
import { api, ApiError } from "./api.js";
import { explain } from "./chat.js";
import { announce, el, messageArea, walletBadge } from "./ui.js";

const ANIMATION_MS = 4000;

export class GiftPicker {
  constructor(slug) {
    this.slug = slug;
    this.catalog = [];
    this.options = el("div.gift-options", { role: "radiogroup", "aria-label": "Gift" });
    this.quantity = el("input", {
      id: "gift-quantity", type: "number", min: "1", max: "9999", value: "1", required: true,
    });
    this.target = el("select", { id: "gift-target", required: true });
    this.status = messageArea("Gift status");
    this.node = el("section.gifts", { "aria-labelledby": "gifts-title" },
      el("h2", { id: "gifts-title" }, "Send a gift"),
      el("form.gift-form", { onsubmit: (event) => this.send(event) },
        this.options,
        el("label", { for: "gift-quantity" }, "Quantity"), this.quantity,
        el("label", { for: "gift-target" }, "To box"), this.target,
        el("button", { type: "submit", id: "send-gift" }, "Send gift")),
      this.status);
  }

  async load() {
    this.catalog = (await api("/gifts")).items.filter((gift) => gift.active !== false);
    this.options.replaceChildren(...this.catalog.map((gift, index) =>
      el("label.gift-option", { dataset: { rarity: gift.rarity } },
        el("input", {
          type: "radio", name: "gift", value: gift.id, checked: index === 0,
          "aria-label": `${gift.name}, ${gift.coin_cost} coins, ${gift.rarity}`,
        }),
        el("span.emoji", { "aria-hidden": "true" }, gift.emoji),
        el("span.name", {}, gift.name),
        el("span.cost", {}, `${gift.coin_cost} 🪙`),
        el("span.rarity", {}, gift.rarity))));
  }

  setBoxes(boxes) {
    const chosen = this.target.value;
    const live = boxes.filter((box) => box.stream);
    this.target.replaceChildren(...live.map((box) =>
      el("option", { value: box.position, selected: String(box.position) === chosen },
        `Box ${box.position} — ${box.stream.streamer.username}`)));
    if (!live.length) this.target.append(el("option", { value: "" }, "No one is live"));
  }

  choose(position) {
    this.target.value = String(position);
    this.quantity.focus();
  }

  async send(event) {
    event.preventDefault();
    const picked = this.options.querySelector("input:checked");
    const position = Number(this.target.value);
    if (!picked || !position) {
      this.status.show("Pick a gift and a live box.");
      return;
    }
    try {
      const result = await api("/gifts", {
        method: "POST",
        body: {
          gift_type_id: picked.value, quantity: Number(this.quantity.value),
          room: this.slug, position,
        },
        headers: { "Idempotency-Key": crypto.randomUUID() },
      });
      walletBadge.show(result.wallet);
      this.status.show(`Sent ${result.gift.quantity} × ${result.gift.gift_type.name}.`, "info");
    } catch (error) {
      this.status.show(giftError(error));
    }
  }
}

function giftError(error) {
  if (error instanceof ApiError && error.status === 402) {
    return `${error.message} Buy coins in your wallet.`;
  }
  if (error instanceof ApiError && error.status === 403) {
    return `${error.message} (Spending is frozen while a refunded purchase leaves a debt; see your wallet.)`;
  }
  return explain(error);
}

// Play a `gift:sent` on its box: the emoji with its animation type and the combo count.
export function playGift(box, sent) {
  const { gift, quantity, combo, sender, recipient } = sent;
  const text = `${sender.username} sent ${quantity} × ${gift.name} to ${recipient.username}` +
    (combo > 1 ? `, combo ×${combo}` : "");
  const layer = box.querySelector(".gift-layer");
  const animation = el(`div.gift-anim.${gift.animation}`, {
    role: "img", "aria-label": text, dataset: { animation: gift.animation, combo, gift: gift.name },
  },
  el("span.emoji", { "aria-hidden": "true" }, gift.emoji.repeat(Math.min(quantity, 5))),
  el("span.count", {}, `×${quantity}`),
  combo > 1 ? el("span.combo", {}, `combo ×${combo}`) : null);
  layer.append(animation);
  setTimeout(() => animation.remove(), ANIMATION_MS);
  announce(text);
}
