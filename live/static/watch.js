/*
 * The viewer demo: what the mini-program room does, in a browser. The pinned product card with
 * live stock and a buy button, the comments overlay, coupon drops to claim, the purchase ticker,
 * flash sales and lucky draws. Viewers come with ?token= (and a guide's ?share= code).
 */
(function () {
  "use strict";
  const {$, el, money, toast, act} = LiveUI;
  const ORDER_POLL_MS = 2000;

  const sessionId = decodeURIComponent(location.pathname.split("/").pop());
  const share = new URLSearchParams(location.search).get("share");
  const state = {
    api: null, room: null, products: {}, levels: {}, pinned: null, offered: {}, mine: {},
    sales: {}, ended: false, tickerTimer: null, bannerTimer: null, offers: {}, waiting: {},
  };

  // A share code is `base64url(JSON).signature`; its payload names the brand (`b`): the
  // development sign-in uses it so a guide's link opens the right brand.
  function brandOfShare(code) {
    if (!code) return "";
    const payload = LiveUI.claimsOf("x." + code.split(".")[0] + ".x");
    return (payload && payload.b) || "";
  }

  async function main() {
    $("#signin-brand").value = brandOfShare(share);
    const {token, claims} = await LiveUI.signIn({page: "watch", roles: ["viewer"],
      defaultName: "Viewer " + Math.floor(Math.random() * 1000)});
    state.claims = claims;
    state.api = LiveClient.api({token: token});
    $("#stage").hidden = false;
    const session = await act(null, () => state.api.session(sessionId));
    if (!session) return;
    $("#title").textContent = session.title;
    document.title = session.title + " · Live";
    for (const p of session.products) state.products[p.product_id] = p;
    const room = LiveClient.connect({wsUrl: session.ws_url, token: token, share: share});
    state.room = room;
    LiveUI.connectionBadge(room, $("#connection"));
    listen(room);
    wire();
  }

  function listen(room) {
    room.on("snapshot", (s) => {
      $("#title").textContent = s.title;
      for (const p of s.products) {
        state.products[p.product_id] = Object.assign(state.products[p.product_id] || {}, p);
        state.levels[p.product_id] = p.stock;
      }
      state.pinned = s.pinned_product_id;
      state.offered = {};
      for (const c of s.coupons || []) state.offered[c.coupon_id] = c;
      state.mine = {};
      for (const c of s.my_coupons || []) state.mine[c.coupon_id] = c;
      state.sales = {};
      for (const sale of s.sales || []) state.sales[sale.product_id] = sale;
      setViewers(s.viewers);
      renderCard();
      renderCoupon();
    });
    room.on("pin", (e) => { state.pinned = e.product_id; renderCard(); });
    room.on("unpin", () => { state.pinned = null; renderCard(); });
    room.on("price", (e) => {
      if (state.products[e.product_id]) state.products[e.product_id].price_cents = e.price_cents;
      renderCard();
    });
    room.on("stock", (e) => { Object.assign(state.levels, e.levels); renderCard(); });
    room.on("sold_out", (e) => { state.levels[e.product_id] = 0; renderCard(); });
    room.on("viewers", (e) => setViewers(e.count));
    room.on("comments", (e) => e.items.forEach(addComment));
    room.on("comment_deleted", (e) => {
      const item = $('#overlay li[data-id="' + e.comment_id + '"]');
      if (item) item.remove();
    });
    room.on("purchase", (e) => {
      const p = state.products[e.product_id];
      const ticker = $("#ticker");
      ticker.textContent = e.user + " just bought " + (p ? p.title : "this");
      ticker.hidden = false;
      clearTimeout(state.tickerTimer);
      state.tickerTimer = setTimeout(() => { ticker.hidden = true; }, 4000);
    });
    room.on("coupon", (c) => { state.offered[c.coupon_id] = c; renderCoupon(); });
    room.on("coupon_left", (e) => {
      if (state.offered[e.coupon_id]) { state.offered[e.coupon_id].left = e.left; renderCoupon(); }
    });
    room.on("sale_open", (s) => {
      state.sales[s.product_id] = s;
      const p = state.products[s.product_id];
      banner("Flash sale: " + (p ? p.title : "") + " at " + money(s.sale_price_cents) + "!", 8000);
      renderCard();
    });
    room.on("sale_close", (e) => { delete state.sales[e.product_id]; renderCard(); });
    room.on("draw_open", (d) => banner(d.keyword
      ? "Lucky draw: comment “" + d.keyword + "” to win " + (d.prize || "a prize") + "!"
      : "Lucky draw for " + (d.prize || "a prize") + ": stay in the room to take part!", 15000));
    room.on("draw_result", (d) => banner(d.winners.length
      ? "Lucky draw: " + d.winners.length + " winner(s) drawn among " + d.entrants + "!"
      : "Lucky draw closed: nobody entered.", 8000));
    room.on("draw_won", (d) => toast("You won " + (d.prize || "the lucky draw") + "!", "ok"));
    room.on("private", (m) => toast(m.from + ": " + m.text, "ok"));
    // A unit came back and is kept for this viewer until expires_at (the waitlist).
    room.on("offer", (o) => {
      state.offers[o.product_id] = o;
      delete state.waiting[o.product_id];
      toast("Good news: one is kept for you for " + LiveUI.countdown(o.expires_at) + ".", "ok");
      renderCard();
    });
    room.on("started", () => banner("The session has started!", 4000));
    room.on("ended", () => {
      state.ended = true;
      banner("The session has ended. Thank you for watching!", 0);
      renderCard();
    });
    room.on("error", (e) => { if (!e.ref) toast(LiveClient.describe(e.code, e.message), "error"); });
  }

  function setViewers(count) {
    $("#viewers").textContent = count + " watching";
  }

  function banner(text, forMs) {
    const box = $("#banner");
    box.textContent = text;
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

  // ---- the pinned product ----

  function priceOf(productId) {
    const sale = state.sales[productId];
    const now = Date.now();
    if (sale && sale.starts_at <= now && now < sale.ends_at) return {cents: sale.sale_price_cents, sale: sale};
    return {cents: state.products[productId].price_cents, sale: null};
  }

  function renderCard() {
    const card = $("#card");
    const p = state.pinned && state.products[state.pinned];
    card.hidden = !p;
    if (!p) return;
    const price = priceOf(p.product_id);
    const left = state.levels[p.product_id] === undefined ? p.stock : state.levels[p.product_id];
    $("#card-title").textContent = p.title;
    $("#card-price").textContent = money(price.cents);
    $("#card-was").textContent = price.sale ? money(p.price_cents) : "";
    const stock = $("#card-stock");
    stock.textContent = left === 0 ? "Sold out" : left <= 5 ? "Only " + left + " left!" : left + " left";
    stock.className = "stock" + (left === 0 ? " out" : left <= 5 ? " low" : "");
    stock.dataset.left = left;
    const buy = $("#buy");
    const offer = state.offers[p.product_id];
    const waiting = state.waiting[p.product_id];
    buy.disabled = state.ended || (left === 0 && !offer && waiting);
    buy.textContent = offer ? "Buy: kept for you" : left > 0 ? "Buy"
      : waiting ? "On the waitlist" : "Sold out: join the waitlist";
    renderCouponChoice(price.cents);
  }

  function renderCouponChoice(priceCents) {
    const select = $("#card-coupon");
    const mine = Object.values(state.mine).filter((c) => (c.min_spend_cents || 0) <= priceCents);
    select.hidden = !mine.length;
    const keep = select.value;
    select.replaceChildren(el("option", {value: "", text: "No coupon"}),
      ...mine.map((c) => el("option", {value: c.coupon_id, text: "Use coupon: " + c.title})));
    select.value = mine.some((c) => c.coupon_id === keep) ? keep : mine.length ? mine[0].coupon_id : "";
  }

  // ---- coupon drops ----

  function renderCoupon() {
    const open = Object.values(state.offered).filter((c) =>
      c.left > 0 && !state.mine[c.coupon_id] && (!c.expires_at || c.expires_at > Date.now()));
    const box = $("#coupon-drop");
    box.hidden = !open.length;
    if (!open.length) return;
    const c = open[open.length - 1];
    box.dataset.couponId = c.coupon_id;
    $("#coupon-title").textContent = c.title;
    $("#coupon-detail").textContent = (c.kind === "percent_off" ? c.value + "% off" : money(c.value) + " off") +
      (c.min_spend_cents ? " orders from " + money(c.min_spend_cents) : "") + " · " + c.left + " left";
  }

  // ---- actions ----

  function wire() {
    $("#claim").onclick = async (event) => {
      const couponId = $("#coupon-drop").dataset.couponId;
      const ack = await act(event.currentTarget, () => state.room.claim(couponId), "Coupon claimed!");
      if (!ack) return;
      state.mine[couponId] = Object.assign({}, state.offered[couponId], {claim_id: ack.claim_id});
      renderCoupon();
      renderCard();
    };
    $("#buy").onclick = async (event) => {
      const productId = state.pinned;
      const offer = state.offers[productId];
      const left = state.levels[productId];
      if (!offer && left === 0) {
        const place = await act(event.currentTarget, () => state.room.waitlist(productId),
          (p) => "You are on the waitlist" + (p.ahead ? " (" + p.ahead + " ahead)." : "."));
        if (place) { state.waiting[productId] = place; renderCard(); }
        return;
      }
      const couponId = $("#card-coupon").hidden ? null : $("#card-coupon").value || null;
      // On the room socket: one frame each way, and the SDK keeps the purchase's key across
      // reconnects, so a tap answered after a dropped connection never buys twice.
      const order = await act(event.currentTarget,
        () => state.room.buy(productId, 1, offer ? {offerId: offer.offer_id} : {couponId: couponId}));
      delete state.offers[productId];
      renderCard();
      if (!order) return;
      if (couponId) { delete state.mine[couponId]; renderCard(); }
      showOrder(order);
    };
    $("#comment-form").onsubmit = (event) => {
      event.preventDefault();
      const input = $("#comment");
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      state.room.comment(text).catch((err) => { input.value = text; LiveUI.fail(err); });
    };
    $("#like").onclick = () => state.room.like(1).catch(() => {});
  }

  function showOrder(order) {
    const box = $("#order");
    box.hidden = false;
    const p = state.products[order.product_id];
    const describe = (o) => {
      box.dataset.status = o.status;
      const what = (p ? p.title : "Your order") + ", " + money(o.amount_cents);
      if (o.status === "paid") return "Paid: " + what + ". Thank you!";
      if (o.status === "reserved") {
        return "Reserved for you: " + what + ". Pay within " + LiveUI.countdown(o.expires_at) + " to keep it.";
      }
      const words = {expired: "The reservation expired: ", cancelled: "Cancelled: "}[o.status];
      return (words || "Order " + o.status.replace("_", " ") + ": ") + what;
    };
    box.textContent = describe(order);
    const poll = setInterval(async () => {
      let now;
      try {
        now = await state.api.getOrder(order.order_id);
      } catch (err) {
        return;
      }
      box.textContent = describe(now);
      if (now.status !== "reserved") clearInterval(poll);
    }, ORDER_POLL_MS);
  }

  main();
})();
