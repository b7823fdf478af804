/*
 * The viewer demo: what the mini-program room does, in a browser. The pinned product card, the
 * product bag with every product of the session (variants, quantity, coupon), my orders with
 * pay and cancel, the comments overlay, coupon drops to claim, the purchase ticker, flash
 * sales and lucky draws with their countdowns; after the end, links to the replay and clips.
 * Viewers come with ?token= (and a guide's ?share= code).
 */
(function () {
  "use strict";
  const {$, el, money, toast, act} = LiveUI;
  const t = LiveI18n.t;

  const sessionId = decodeURIComponent(location.pathname.split("/").pop());
  const share = new URLSearchParams(location.search).get("share");
  const state = {
    api: null, room: null, shop: null, detail: null, orders: null, offered: {}, mine: {},
    claimed: {}, ended: false, tickerTimer: null, bannerTimer: null, draw: null,
    offers: {}, waiting: {},
  };

  // A share code is `base64url(JSON).signature`; its payload names the brand (`b`): the
  // development sign-in uses it so a guide's link opens the right brand.
  function brandOfShare(code) {
    if (!code) return "";
    const payload = LiveUI.claimsOf("x." + code.split(".")[0] + ".x");
    return (payload && payload.b) || "";
  }

  async function main() {
    await LiveI18n.ready;
    $("#signin-brand").value = brandOfShare(share);
    const {token, claims} = await LiveUI.signIn({page: "watch", roles: ["viewer"],
      defaultName: t("viewer.default_name", {n: Math.floor(Math.random() * 1000)})});
    state.claims = claims;
    state.api = LiveClient.api({token: token});
    $("#stage").hidden = false;
    const session = await act(null, () => state.api.session(sessionId));
    if (!session) return;
    $("#title").textContent = session.title;
    document.title = t("viewer.document_title", {title: session.title});
    const room = LiveClient.connect({wsUrl: session.ws_url, token: token, share: share});
    state.room = room;
    state.shop = LiveClient.shop(room, session);
    state.orders = new LiveShop.Orders({api: state.api, title: titleOf, query: {session_id: sessionId}});
    state.detail = new LiveShop.Detail({
      shop: state.shop, orders: state.orders, coupons: () => Object.values(state.mine),
      canBuy: () => !state.ended, buy: buy,
    });
    state.shop.on("change", render);
    LiveUI.connectionBadge(room, $("#connection"));
    listen(room);
    wire();
    render();
    state.orders.load();
    if (session.status === "ended") showEnded();
  }

  function titleOf(order) {
    const p = state.shop.products[order.product_id];
    if (!p) return t("shop.your_order");
    const options = LiveShop.optionWords(p.options);
    return p.title + (options ? " (" + options + ")" : "");
  }

  function listen(room) {
    room.on("snapshot", (s) => {
      $("#title").textContent = s.title;
      state.offered = {};
      for (const c of s.coupons || []) state.offered[c.coupon_id] = c;
      state.mine = {};
      for (const c of s.my_coupons || []) state.mine[c.coupon_id] = c;
      state.claimed = Object.assign({}, s.my_claims || {});
      setViewers(s.viewers);
      renderCoupon();
    });
    room.on("viewers", (e) => setViewers(e.count));
    room.on("comments", (e) => e.items.forEach(addComment));
    room.on("comment_deleted", (e) => {
      const item = $('#overlay li[data-id="' + e.comment_id + '"]');
      if (item) item.remove();
    });
    room.on("purchase", (e) => {
      const p = state.shop.products[e.product_id];
      const ticker = $("#ticker");
      ticker.textContent = p ? t("viewer.just_bought", {user: e.user, title: p.title})
        : t("viewer.just_bought_this", {user: e.user});
      ticker.hidden = false;
      clearTimeout(state.tickerTimer);
      state.tickerTimer = setTimeout(() => { ticker.hidden = true; }, 4000);
    });
    room.on("coupon", (c) => { state.offered[c.coupon_id] = c; renderCoupon(); });
    room.on("coupon_left", (e) => {
      if (state.offered[e.coupon_id]) { state.offered[e.coupon_id].left = e.left; renderCoupon(); }
    });
    room.on("sale_open", (s) => {
      const p = state.shop.products[s.product_id];
      banner(t("viewer.sale_open", {title: p ? p.title : "", price: money(s.sale_price_cents)}), 8000);
    });
    room.on("sale_close", (e) => {
      const p = state.shop.products[e.product_id];
      if (e.reason === "sold_out" && p) banner(t("viewer.sale_sold_out", {title: p.title}), 6000);
    });
    room.on("draw_open", (d) => {
      state.draw = d;
      const prize = d.prize || t("viewer.a_prize");
      banner([d.keyword ? t("viewer.draw_keyword", {keyword: d.keyword, prize: prize})
        : t("viewer.draw_stay", {prize: prize}),
      t("viewer.draw_closes_in"), LiveShop.until(d.ends_at)], 0);
    });
    room.on("draw_result", (d) => {
      state.draw = null;
      banner(d.winners.length
        ? t("viewer.draw_result", {winners: d.winners.length, entrants: d.entrants})
        : t("viewer.draw_nobody"), 8000);
    });
    room.on("draw_won", (d) => toast(d.prize ? t("viewer.draw_won_prize", {prize: d.prize})
      : t("viewer.draw_won"), "ok"));
    room.on("private", onPrivate);
    // A unit came back and is kept for this viewer until expires_at (the waitlist).
    room.on("offer", (o) => {
      state.offers[o.product_id] = o;
      delete state.waiting[o.product_id];
      toast(t("viewer.offer_kept", {time: LiveUI.countdown(o.expires_at)}), "ok");
      renderCard();
    });
    room.on("started", () => banner(t("viewer.started"), 4000));
    room.on("ended", () => showEnded());
    // A close with 1000 is the session's end, whether or not its `ended` frame was read first
    // (a socket that joins as the session ends gets a snapshot covering it, then the close).
    room.on("state", (e) => { if (e.state === "closed" && e.code === 1000) showEnded(); });
    room.on("error", (e) => { if (!e.ref) toast(LiveClient.describe(e.code, e.message), "error"); });
  }

  function setViewers(count) {
    if (!state.ended) $("#viewers").textContent = t("viewer.watching", {n: count});
  }

  function banner(content, forMs) {
    const box = $("#banner");
    box.replaceChildren(...[].concat(content));
    box.hidden = false;
    clearTimeout(state.bannerTimer);
    if (forMs) state.bannerTimer = setTimeout(() => { box.hidden = true; }, forMs);
  }

  function addComment(c) {
    const list = $("#overlay");
    list.append(el("li", {"data-id": c.id}, [el("b", {text: c.user}), c.text,
      c.count > 1 ? " ×" + c.count : null]));
    while (list.children.length > 8) list.firstChild.remove();
  }

  // ---- the pinned product and the bag ----

  function render() {
    renderCard();
    renderBag();
  }

  function renderCard() {
    const shop = state.shop;
    const card = $("#card");
    const p = shop.pinned && shop.products[shop.pinned];
    card.hidden = !p || state.ended;
    if (!p) return;
    // A pinned item with variants shows the stock of all of them.
    const variants = shop.variants(p.product_id);
    const left = variants.reduce((sum, v) => sum + shop.stock(v.product_id), 0);
    const price = shop.price(p.product_id);
    const image = $("#card-image");
    image.hidden = !p.image_url;
    if (p.image_url && image.getAttribute("src") !== p.image_url) image.src = p.image_url;
    $("#card-title").textContent = p.title;
    $("#card-price").textContent = money(price.cents);
    $("#card-was").textContent = price.was !== null ? money(price.was) : "";
    const sale = $("#card-sale");
    sale.hidden = !price.sale;
    if (price.sale) sale.replaceChildren(...LiveShop.saleLine(price.sale));
    const stock = $("#card-stock");
    stock.textContent = LiveShop.stockWords(left) +
      (variants.length > 1 ? " · " + t("shop.options_count", {n: variants.length}) : "");
    stock.className = "stock" + (left === 0 ? " out" : left <= 5 ? " low" : "");
    stock.dataset.left = left;
    // Sold out: the viewer may wait for a unit that comes back (a lapsed hold, a cancel); one
    // kept for them is bought with one tap.
    const offer = variants.map((v) => state.offers[v.product_id]).find(Boolean);
    const waiting = variants.some((v) => state.waiting[v.product_id]);
    const buy = $("#buy");
    buy.disabled = state.ended || (left === 0 && !offer && waiting);
    buy.textContent = t(offer ? "viewer.buy_kept" : left > 0 ? "viewer.buy"
      : waiting ? "viewer.on_waitlist" : "viewer.join_waitlist");
  }

  async function onCardBuy(event) {
    const shop = state.shop;
    const productId = shop.pinned;
    const variants = shop.variants(productId);
    const offer = variants.map((v) => state.offers[v.product_id]).find(Boolean);
    if (offer) {
      const order = await act(event.currentTarget,
        () => state.room.buy(offer.product_id, 1, {offerId: offer.offer_id}));
      delete state.offers[offer.product_id];
      renderCard();
      if (order) state.orders.show(order);
      return;
    }
    const left = variants.reduce((sum, v) => sum + shop.stock(v.product_id), 0);
    if (left === 0) {
      const place = await act(event.currentTarget, () => state.room.waitlist(productId),
        (p) => p.ahead ? t("viewer.waitlist_joined_ahead", {ahead: p.ahead}) : t("viewer.waitlist_joined"));
      if (place) { state.waiting[productId] = place; renderCard(); }
      return;
    }
    state.detail.open(productId);
  }

  function renderBag() {
    const shop = state.shop;
    const groups = shop.groups();
    $("#bag-count").textContent = groups.length;
    $("#bag-list").replaceChildren(...groups.map((g) => {
      const first = g.products[0];
      const left = g.products.reduce((sum, v) => sum + shop.stock(v.product_id), 0);
      const prices = g.products.map((v) => shop.price(v.product_id));
      const price = prices.reduce((low, p) => (p.cents < low.cents ? p : low), prices[0]);
      return el("li", {class: "bag-item" + (g.pinned ? " pinned" : ""), "data-group-id": g.id,
        onclick: () => state.detail.open(first.product_id)}, [
        first.image_url ? el("img", {class: "thumb", src: first.image_url, alt: ""})
          : el("span", {class: "thumb blank", "aria-hidden": "true", text: first.title.slice(0, 1)}),
        el("div", {class: "grow"}, [
          g.pinned ? el("span", {class: "live-now", text: t("viewer.explaining_now")}) : null,
          el("b", {class: "name", text: first.title}),
          el("div", {}, [el("span", {class: "price", text: money(price.cents)}), " ",
            price.was !== null ? el("s", {class: "was", text: money(price.was)}) : null]),
          price.sale ? el("div", {class: "sale-line"}, LiveShop.saleLine(price.sale)) : null,
          el("div", {class: "stock" + (left === 0 ? " out" : ""), text: LiveShop.stockWords(left) +
            (g.products.length > 1 ? " · " + t("shop.options_count", {n: g.products.length}) : "")}),
        ]),
      ]);
    }));
  }

  async function buy(productId, qty, couponId, button) {
    // On the room socket: one frame each way, and the SDK keeps the purchase's key across
    // reconnects, so a tap answered after a dropped connection never buys twice.
    const order = await act(button, () => state.room.buy(productId, qty, {couponId: couponId}));
    if (order && couponId) {
      delete state.mine[couponId];
      state.detail.render();
    }
    return order;
  }

  // ---- my guide: private answers and nudge coupons ----

  function onPrivate(m) {
    if (m.kind === "answer") {
      $("#guide-reply-from").textContent = t("workspace.viewer.answer_from", {name: m.from});
      $("#guide-reply-text").textContent = m.text;
      $("#guide-reply").hidden = false;
    } else if (m.kind === "nudge") {
      // Claimed like any coupon drop; only this viewer may claim it.
      state.offered[m.coupon.coupon_id] = Object.assign({}, m.coupon,
        {title: t("workspace.viewer.nudge_title", {name: m.from})});
      toast(t("workspace.viewer.nudge_received", {name: m.from}), "ok");
      renderCoupon();
    } else {
      toast(t("viewer.private_message", {from: m.from, text: m.text}), "ok");
    }
  }

  // ---- coupon drops ----

  function renderCoupon() {
    const open = Object.values(state.offered).filter((c) =>
      !state.ended && c.left > 0 && !state.mine[c.coupon_id] &&
      (state.claimed[c.coupon_id] || 0) < (c.per_viewer_limit || 1) &&
      (!c.expires_at || c.expires_at > Date.now()));
    const box = $("#coupon-drop");
    box.hidden = !open.length;
    if (!open.length) return;
    const c = open[open.length - 1];
    box.dataset.couponId = c.coupon_id;
    $("#coupon-title").textContent = c.title;
    $("#coupon-detail").textContent = LiveShop.couponWords(c) + " · " + t("viewer.coupon_left", {n: c.left});
  }

  // ---- the end: the room closes, the replay and the clips take over ----

  async function showEnded() {
    if (state.ended) return; // the `ended` frame and the close both say so
    state.ended = true;
    $("#viewers").textContent = t("viewer.ended");
    $("#coupon-drop").hidden = true;
    $("#banner").hidden = true;
    $("#comment").disabled = true;
    // Nothing to say, ask or like in a room that ended: the bar keeps only the products.
    $("#comment-form").classList.add("ended");
    render();
    const box = $("#ended-box");
    box.hidden = false;
    $("#replay-link").href = "/replay/" + encodeURIComponent(sessionId) + (share ? "?share=" + encodeURIComponent(share) : "");
    // The clips are cut once the archive is written, a few seconds after the end.
    for (let attempt = 0; attempt < 10; attempt++) {
      const clips = await state.api.clips(sessionId).catch(() => null);
      if (clips) {
        $("#ended-clips").replaceChildren(...clips.map((c) => el("li", {}, el("a", {
          href: "/clips/" + encodeURIComponent(c.clip_id) + (share ? "?share=" + encodeURIComponent(share) : ""),
          text: "▶ " + c.title}))));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  // ---- actions ----

  function wire() {
    $("#claim").onclick = async (event) => {
      const couponId = $("#coupon-drop").dataset.couponId;
      const ack = await act(event.currentTarget, () => state.room.claim(couponId), t("viewer.coupon_claimed"));
      if (!ack) return;
      state.mine[couponId] = Object.assign({}, state.offered[couponId], {claim_id: ack.claim_id});
      state.claimed[couponId] = (state.claimed[couponId] || 0) + 1;
      renderCoupon();
    };
    $("#buy").onclick = onCardBuy;
    $("#bag-open").onclick = () => LiveShop.openSheet("bag");
    $("#orders-open").onclick = () => { LiveShop.openSheet("orders"); state.orders.load(); };
    $("#comment-form").onsubmit = (event) => {
      event.preventDefault();
      const input = $("#comment");
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      state.room.comment(text).catch((err) => { input.value = text; LiveUI.fail(err); });
    };
    $("#like").onclick = () => state.room.like(1).catch(() => {});
    $("#ask").onclick = async (event) => {
      const input = $("#comment");
      const text = input.value.trim();
      if (!text) { input.focus(); return; }
      const ack = await act(event.currentTarget, () => state.room.ask(text), (a) => t(
        a.routed_to === "host" ? "workspace.viewer.asked_host" : "workspace.viewer.asked"));
      if (ack) input.value = "";
    };
  }

  main();
})();
