/*
 * shop.js: what the live room and the replay pages share to sell: sheets that slide up over
 * the video, the product detail (variant, quantity, coupon, total), my orders with pay, cancel
 * and the hold's countdown, and paying through the server's payment provider. Needs
 * live-client.js and ui.js first. Defines window.LiveShop.
 */
(function () {
  "use strict";
  const {$, el, money, act} = LiveUI;
  const t = LiveI18n.t;
  const ORDERS_EVERY_MS = 3000;
  const MAX_QTY = 100;

  // ---- sheets ----

  function openSheet(id) {
    for (const sheet of document.querySelectorAll(".sheet")) sheet.hidden = sheet.id !== id;
  }

  function closeSheets() {
    for (const sheet of document.querySelectorAll(".sheet")) sheet.hidden = true;
  }

  for (const button of document.querySelectorAll("[data-close]")) button.onclick = closeSheets;

  const until = LiveUI.until;

  // "Flash sale ¥49.00 · ends in 4:59 · 40% claimed", or before the start "starts in".
  function saleLine(sale) {
    const now = Date.now();
    const claimed = sale.stock_cap ? Math.round((100 * (sale.stock_cap - sale.left)) / sale.stock_cap) : 0;
    const when = sale.starts_at > now ? [t("shop.sale_starts_in"), until(sale.starts_at)]
      : [t("shop.sale_ends_in"), until(sale.ends_at)];
    return [el("b", {text: t("shop.flash_sale_price", {price: money(sale.sale_price_cents)})}), " · ", ...when, " · ",
      el("span", {class: "claimed", text: t("shop.sale_claimed", {percent: claimed})}),
      el("span", {class: "bar"}, el("i", {style: "width:" + claimed + "%"}))];
  }

  function stockWords(left) {
    return left === 0 ? t("shop.sold_out") : left <= 5 ? t("shop.only_left", {n: left}) : t("shop.left", {n: left});
  }

  // "¥20.00 off orders from ¥100.00", "10% off".
  function couponWords(c) {
    const off = c.kind === "percent_off" ? t("shop.percent_off", {n: c.value})
      : t("shop.amount_off", {amount: money(c.value)});
    return c.min_spend_cents ? t("shop.coupon_min_spend", {off: off, min: money(c.min_spend_cents)}) : off;
  }

  function optionWords(options) {
    return Object.entries(options || {}).map(([name, value]) => name + ": " + value).join(", ");
  }

  // ---- product detail: pick a variant, a quantity and a coupon, then buy ----

  class Detail {
    /**
     * options: shop (LiveClient.shop), coupons() -> the viewer's claimed, unused coupons,
     * buy(productId, qty, couponId) -> Promise of the order (or null when refused).
     */
    constructor(options) {
      this.options = options;
      this.productId = null;
      this.qty = 1;
      $("#qty-minus").onclick = () => { this.qty = Math.max(1, this.qty - 1); this.render(); };
      $("#qty-plus").onclick = () => { this.qty = Math.min(this.maxQty(), this.qty + 1); this.render(); };
      $("#detail-coupon").onchange = () => this.render();
      $("#detail-buy").onclick = (event) => this.buy(event.currentTarget);
      options.shop.on("change", () => { if (!$("#detail").hidden) this.render(); });
    }

    open(productId) {
      const shop = this.options.shop;
      // A group opens on its first variant with stock.
      const variants = shop.variants(productId);
      const inStock = variants.find((v) => shop.stock(v.product_id) > 0);
      this.productId = productId === (variants[0] || {}).product_id && inStock ? inStock.product_id : productId;
      this.qty = 1;
      openSheet("detail");
      this.render();
    }

    maxQty() {
      const shop = this.options.shop;
      const p = shop.products[this.productId];
      const sale = shop.price(this.productId).sale;
      let most = Math.min(MAX_QTY, shop.stock(this.productId));
      if (p && p.limit_per_viewer) most = Math.min(most, p.limit_per_viewer);
      if (sale && sale.per_viewer_limit) most = Math.min(most, sale.per_viewer_limit);
      return Math.max(1, most);
    }

    render() {
      const shop = this.options.shop;
      const p = shop.products[this.productId];
      if (!p) return;
      const price = shop.price(p.product_id);
      const left = shop.stock(p.product_id);
      this.qty = Math.min(this.qty, this.maxQty());
      $("#detail-title").textContent = p.title;
      const image = $("#detail-image");
      image.hidden = !p.image_url;
      if (p.image_url && image.getAttribute("src") !== p.image_url) image.src = p.image_url;
      $("#detail-price").textContent = money(price.cents);
      $("#detail-was").textContent = price.was !== null ? money(price.was) : "";
      const saleBox = $("#detail-sale");
      saleBox.hidden = !price.sale;
      if (price.sale) saleBox.replaceChildren(...saleLine(price.sale));
      this.renderOptions(p);
      const stock = $("#detail-stock");
      stock.textContent = stockWords(left);
      stock.className = "stock" + (left === 0 ? " out" : left <= 5 ? " low" : "");
      $("#qty").textContent = this.qty;
      const subtotal = price.cents * this.qty;
      const coupon = this.renderCoupons(subtotal);
      const discount = coupon ? Math.min(subtotal, coupon.kind === "percent_off"
        ? Math.floor((subtotal * coupon.value) / 100) : coupon.value) : 0;
      $("#detail-total").textContent = discount
        ? t("shop.total_with_discount", {total: money(subtotal - discount), discount: money(discount)})
        : money(subtotal);
      const buy = $("#detail-buy");
      buy.disabled = left === 0 || !this.options.canBuy();
      buy.textContent = left === 0 ? t("shop.sold_out") : t("shop.buy_now_total", {total: money(subtotal - discount)});
    }

    // One row of buttons per option name ("size", "colour"); a value leads to the variant
    // that has it and keeps the other options chosen, when there is one.
    renderOptions(p) {
      const shop = this.options.shop;
      const variants = shop.variants(p.product_id);
      const box = $("#detail-options");
      box.replaceChildren();
      if (variants.length < 2) return;
      const names = [];
      for (const v of variants) for (const name of Object.keys(v.options || {})) if (!names.includes(name)) names.push(name);
      for (const name of names) {
        const values = [];
        for (const v of variants) {
          const value = (v.options || {})[name];
          if (value !== undefined && !values.includes(value)) values.push(value);
        }
        const row = el("div", {class: "option-row"}, el("span", {class: "option-name", text: name}));
        for (const value of values) {
          const wanted = Object.assign({}, p.options, {[name]: value});
          const match = variants.find((v) => Object.keys(wanted).every((k) => (v.options || {})[k] === wanted[k])) ||
            variants.find((v) => (v.options || {})[name] === value);
          const chosen = (p.options || {})[name] === value;
          const out = shop.stock(match.product_id) === 0;
          row.append(el("button", {type: "button", class: "option" + (chosen ? " chosen" : "") + (out ? " out" : ""),
            "data-product-id": match.product_id, "aria-pressed": chosen ? "true" : "false",
            text: out ? t("shop.option_sold_out", {value: value}) : value,
            onclick: () => { this.productId = match.product_id; this.render(); }}));
        }
        box.append(row);
      }
    }

    renderCoupons(subtotal) {
      const select = $("#detail-coupon");
      const usable = this.options.coupons().filter((c) => (c.min_spend_cents || 0) <= subtotal);
      $("#coupon-choice").hidden = !usable.length;
      const keep = select.value;
      select.replaceChildren(el("option", {value: "", text: t("shop.no_coupon")}),
        ...usable.map((c) => el("option", {value: c.coupon_id, text: c.title})));
      select.value = usable.some((c) => c.coupon_id === keep) ? keep : usable.length ? usable[0].coupon_id : "";
      return usable.find((c) => c.coupon_id === select.value) || null;
    }

    async buy(button) {
      const couponId = $("#coupon-choice").hidden ? null : $("#detail-coupon").value || null;
      const order = await this.options.buy(this.productId, this.qty, couponId, button);
      if (order) this.options.orders.show(order);
    }
  }

  // ---- my orders: pay, cancel, the hold's countdown; they survive a reload ----

  const STATUSES = ["paid", "expired", "cancelled", "refund_required", "refunded"];

  class Orders {
    /** options: api, title(productId) -> words, query (filters of GET /api/orders/mine). */
    constructor(options) {
      this.options = options;
      this.items = [];
      this.timer = null;
    }

    async load() {
      const listed = await this.options.api.viewerOrders(this.options.query || {}).catch(() => null);
      if (!listed) return;
      this.items = listed.items;
      this.render();
      const waiting = this.items.some((o) => o.status === "reserved");
      clearTimeout(this.timer);
      if (waiting) this.timer = setTimeout(() => this.load(), ORDERS_EVERY_MS);
    }

    show(order) {
      this.items = [order, ...this.items.filter((o) => o.order_id !== order.order_id)];
      openSheet("orders");
      this.render();
      this.load();
    }

    render() {
      const list = $("#orders-list");
      list.replaceChildren();
      if (!this.items.length) list.append(el("li", {class: "muted", text: t("shop.no_orders")}));
      for (const o of this.items) list.append(this.item(o));
      const box = $("#order");
      const waiting = this.items.find((o) => o.status === "reserved");
      if (box) {
        box.hidden = !waiting;
        if (waiting) {
          box.replaceChildren(t("shop.reserved_pay_within", {title: this.options.title(waiting)}),
            until(waiting.expires_at), " ", el("button", {type: "button", class: "small primary",
              text: t("shop.pay"), onclick: () => openSheet("orders")}));
        }
      }
    }

    item(o) {
      const what = this.options.title(o) + (o.qty > 1 ? " × " + o.qty : "");
      const rows = [el("div", {class: "order-what"}, [el("b", {text: what}), el("span", {text: money(o.amount_cents)})])];
      if (o.status === "reserved") {
        rows.push(el("div", {class: "muted"}, [t("shop.reserved_for_you"), until(o.expires_at)]));
        rows.push(el("div", {class: "row"}, [
          el("button", {type: "button", class: "primary pay", text: t("shop.pay_amount", {amount: money(o.amount_cents)}),
            onclick: (e) => this.pay(o, e.currentTarget)}),
          el("button", {type: "button", class: "ghost cancel", text: t("shop.cancel"),
            onclick: (e) => this.cancel(o, e.currentTarget)}),
        ]));
      } else {
        rows.push(el("div", {class: "status-" + o.status,
          text: STATUSES.includes(o.status) ? t("shop.status_" + o.status) : o.status}));
      }
      return el("li", {class: "order-item", "data-order-id": o.order_id, "data-status": o.status}, rows);
    }

    async pay(order, button) {
      const answer = await act(button, () => this.options.api.pay(order.order_id));
      if (!answer) return;
      if (answer.pay_url) {
        // The development provider's page, as a payment provider's H5 page: back here after.
        location.href = answer.pay_url + "?back=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      LiveUI.toast(t("shop.pay_in_wechat"), "ok");
    }

    async cancel(order, button) {
      const cancelled = await act(button, () => this.options.api.cancelOrder(order.order_id), t("shop.order_cancelled"));
      if (cancelled) this.show(cancelled);
    }
  }

  window.LiveShop = {
    openSheet: openSheet, closeSheets: closeSheets, saleLine: saleLine, stockWords: stockWords,
    optionWords: optionWords, couponWords: couponWords, until: until, Detail: Detail, Orders: Orders,
  };
})();
