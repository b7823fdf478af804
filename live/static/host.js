/*
 * The host panel: sessions, products and pins, coupons, flash sales, lucky draws, comments with
 * moderation, live figures, the guide leaderboard and past sessions' clips. State comes from
 * the room socket (host channel) and a few HTTP reads; every action is one HTTP call.
 */
(function () {
  "use strict";
  const {$, el, money, cents, toast, act} = LiveUI;
  const t = LiveI18n.t;
  const STATUSES = ["draft", "scheduled", "live", "ended"];
  const STATS_EVERY_MS = 3000;

  const state = {
    api: null, token: null, sessionId: null, session: null, room: null,
    products: {}, order: [], rows: {}, levels: {}, allocated: {}, pinned: null,
    coupons: {}, sales: {}, draws: {}, comments: 0, statsTimer: null, statsSoon: null,
    guideNames: {}, namesAsked: {},
  };

  // On a phone every section but the session and its products folds to its title: the panel
  // fits a screen or two, and a tap on a title opens that section.
  function foldOnPhones() {
    if (!window.matchMedia("(max-width: 600px)").matches) return;
    for (const card of document.querySelectorAll("#panel > .card")) {
      card.classList.add("foldable");
      if (!["session-card", "products-card"].includes(card.id)) card.classList.add("folded");
      const title = card.querySelector("h2");
      title.setAttribute("role", "button");
      title.setAttribute("aria-expanded", String(!card.classList.contains("folded")));
      title.onclick = () => {
        card.classList.toggle("folded");
        title.setAttribute("aria-expanded", String(!card.classList.contains("folded")));
      };
    }
  }

  // The words for a session's status; a status this page does not know shows as it is.
  function statusWords(status) {
    return STATUSES.includes(status) ? t("host.status_" + status) : status;
  }

  async function main() {
    await LiveI18n.ready;
    const {token, claims} = await LiveUI.signIn({page: "host", roles: ["host", "admin"],
      defaultName: t("host.default_name")});
    state.api = LiveClient.api({token: token});
    state.token = token;
    $("#who").textContent = (claims.name || claims.sub) + " · " + claims.brand;
    $("#signout").onclick = () => LiveUI.signOut("host");
    $("#panel").hidden = false;
    foldOnPhones();
    wireForms();
    const sessions = await loadSessions();
    const wanted = new URLSearchParams(location.search).get("session");
    const first = sessions.find((s) => s.id === wanted) ||
      sessions.find((s) => s.status === "live") ||
      sessions.find((s) => s.status === "scheduled" || s.status === "draft");
    if (first) await open(first.id);
    loadPast();
  }

  // ---- sessions ----

  async function loadSessions() {
    const listed = await act(null, () => state.api.listSessions());
    const items = listed ? listed.items : [];
    const select = $("#session-select");
    select.replaceChildren(el("option", {value: "", text: t(items.length ? "host.choose_session" : "host.no_sessions")}));
    for (const s of items) {
      select.append(el("option", {value: s.id, text: t("host.session_option", {title: s.title, status: statusWords(s.status)})}));
    }
    select.value = state.sessionId || "";
    select.onchange = () => select.value && open(select.value);
    return items;
  }

  async function open(sessionId) {
    if (state.room) state.room.close();
    clearInterval(state.statsTimer);
    Object.assign(state, {sessionId: sessionId, products: {}, order: [], rows: {}, levels: {},
      allocated: {}, pinned: null, coupons: {}, sales: {}, draws: {}});
    $("#products").replaceChildren();
    $("#comments").replaceChildren();
    $("#coupons").replaceChildren();
    $("#sales").replaceChildren();
    $("#draws").replaceChildren();
    const params = new URLSearchParams(location.search);
    params.set("session", sessionId);
    history.replaceState(null, "", location.pathname + "?" + params);
    $("#session-select").value = sessionId;
    const session = await act(null, () => state.api.session(sessionId));
    if (!session) return;
    applySession(session);
    connect(session);
    refreshStats();
    state.statsTimer = setInterval(refreshStats, STATS_EVERY_MS);
    act(null, () => state.api.leaderboard(sessionId)).then((b) => b && renderLeaderboard(b.guides));
    state.namesAsked = {};
    loadMuted();
    state.api.draws(sessionId).then((listed) => {
      for (const d of listed.items) {
        state.draws[d.draw_id] = Object.assign({}, d, d.result || {}, {done: d.status === "closed"});
      }
      renderDraws();
    }).catch(() => {});
  }

  // The schedule card (host-schedule.js) changed the session: list and show it anew.
  document.addEventListener("live:session-changed", () =>
    loadSessions().then(() => state.sessionId && open(state.sessionId)));

  function applySession(session) {
    state.session = session;
    // The schedule card (host-schedule.js) follows the session shown here.
    document.dispatchEvent(new CustomEvent("live:session", {detail: {api: state.api, session: session}}));
    $("#session-title").textContent = session.title;
    const badge = $("#session-status");
    badge.textContent = session.status === "live" ? t("host.badge_live") : statusWords(session.status);
    badge.className = "badge status-" + session.status;
    $("#start").disabled = session.status !== "draft" && session.status !== "scheduled";
    $("#end").disabled = session.status !== "live";
    $("#viewer-link").replaceChildren(t("host.viewer_page"),
      el("a", {href: "/watch/" + session.id, target: "_blank", text: "/watch/" + session.id}));
    for (const p of session.products) {
      if (!state.products[p.product_id]) state.order.push(p.product_id);
      state.products[p.product_id] = p;
      state.levels[p.product_id] = p.stock;
      state.allocated[p.product_id] = Math.max(state.allocated[p.product_id] || 0, p.stock);
    }
    state.pinned = session.pinned_product_id;
    renderProducts();
  }

  function connect(session) {
    const room = LiveClient.connect({wsUrl: session.ws_url, token: state.token});
    state.room = room;
    if (state.guides) state.guides.close();
    state.guides = HostGuides.attach({room: room, api: state.api, sessionId: session.id});
    LiveUI.connectionBadge(room, $("#connection"));
    room.on("snapshot", (s) => {
      for (const p of s.products) {
        state.levels[p.product_id] = p.stock;
        if (state.products[p.product_id]) state.products[p.product_id].price_cents = p.price_cents;
      }
      state.pinned = s.pinned_product_id;
      $("#stat-viewers").textContent = s.viewers;
      if (s.likes !== undefined) $("#stat-likes").textContent = s.likes;
      for (const c of s.coupons || []) addCoupon(c);
      for (const sale of s.sales || []) addSale(sale);
      for (const d of s.draws || []) state.draws[d.draw_id] = Object.assign(state.draws[d.draw_id] || {}, d);
      renderDraws();
      renderProducts();
    });
    room.on("pin", (e) => { state.pinned = e.product_id; renderProducts(); });
    room.on("unpin", () => { state.pinned = null; renderProducts(); });
    room.on("price", (e) => {
      if (state.products[e.product_id]) state.products[e.product_id].price_cents = e.price_cents;
      renderProducts();
    });
    room.on("stock", (e) => { Object.assign(state.levels, e.levels); renderProducts(); renderSales(); });
    room.on("viewers", (e) => { $("#stat-viewers").textContent = e.count; });
    room.on("likes", (e) => { $("#stat-likes").textContent = e.total; });
    room.on("comments", (e) => e.items.forEach(addComment));
    room.on("comment_deleted", (e) => {
      const item = $('#comments li[data-id="' + e.comment_id + '"]');
      if (item) item.remove();
    });
    room.on("purchase", (e) => {
      const p = state.products[e.product_id];
      $("#ticker").textContent = t("host.just_bought", {user: e.user, qty: e.qty, title: p ? p.title : ""});
      statsSoon();
    });
    room.on("leaderboard", (e) => renderLeaderboard(e.guides));
    room.on("coupon", addCoupon);
    room.on("coupon_left", (e) => {
      if (state.coupons[e.coupon_id]) { state.coupons[e.coupon_id].left = e.left; renderCoupons(); }
    });
    room.on("sale_open", addSale);
    room.on("sale_close", (e) => {
      const sale = state.sales[e.sale_id];
      delete state.sales[e.sale_id];
      renderSales();
      if (sale && e.reason === "sold_out") {
        const p = state.products[sale.product_id];
        toast(t("host.sale_sold_out", {title: p ? p.title : ""}), "ok");
      }
    });
    room.on("draw_open", (e) => { state.draws[e.draw_id] = e; renderDraws(); });
    room.on("draw_result", (e) => {
      state.draws[e.draw_id] = Object.assign(state.draws[e.draw_id] || {}, e, {done: true});
      renderDraws();
    });
    room.on("started", () => refreshSession());
    room.on("ended", () => { refreshSession(); loadPast(); });
  }

  async function refreshSession() {
    const session = await act(null, () => state.api.session(state.sessionId));
    if (session) applySession(session);
    loadSessions();
  }

  // ---- products and pins ----

  // Rows are made once and then updated in place: frames arrive several times a second and a
  // rebuilt list would swallow the host's taps on Pin.
  function productRow(id) {
    if (state.rows[id]) return state.rows[id];
    const row = {
      name: el("div", {class: "name"}), price: el("span"), left: el("span", {class: "left"}),
      total: el("span"), fill: el("i"), pin: el("button", {class: "pin"}),
    };
    row.bar = el("div", {class: "stockbar"}, row.fill);
    row.node = el("div", {class: "product", "data-product-id": id}, [
      el("div", {}, [row.name, el("div", {class: "muted"}, [row.price, " · ", row.left, row.total])]),
      row.pin, row.bar,
    ]);
    row.pin.onclick = () => {
      const p = state.products[id];
      act(row.pin, () => state.api.pin(state.sessionId, id), t("host.pinned_toast", {title: p.title})).then((r) => {
        if (r) { state.pinned = r.pinned_product_id; renderProducts(); }
      });
    };
    state.rows[id] = row;
    $("#products").append(row.node);
    return row;
  }

  // A variant shows its options beside its title ("Wool coat · size M").
  function nameOf(p) {
    const options = Object.entries(p.options || {}).map(([k, v]) => k + " " + v).join(", ");
    return p.title + (options ? " · " + options : "");
  }

  function renderProducts() {
    const empty = $("#products-empty");
    empty.hidden = state.order.length > 0;
    const live = state.session && state.session.status === "live";
    for (const id of state.order) {
      const p = state.products[id];
      const row = productRow(id);
      const left = state.levels[id] === undefined ? p.stock : state.levels[id];
      const total = Math.max(state.allocated[id] || 0, left, 1);
      const pinned = state.pinned === id;
      row.node.classList.toggle("pinned", pinned);
      row.name.textContent = nameOf(p);
      row.price.textContent = money(p.price_cents);
      row.left.textContent = t("host.stock_left", {n: left});
      row.total.textContent = t("host.stock_of", {total: total});
      row.bar.className = "stockbar" + (left === 0 ? " out" : left / total < 0.2 ? " low" : "");
      row.fill.style.width = Math.round((100 * left) / total) + "%";
      row.pin.className = "pin " + (pinned ? "ghost" : "primary");
      row.pin.textContent = t(pinned ? "host.pinned" : "host.pin");
      row.pin.disabled = !live || pinned;
    }
    $("#unpin").disabled = !live || !state.pinned;
    const variants = $(".variant-select");
    if (variants.options.length !== state.order.length + 1) {
      variants.replaceChildren(el("option", {value: "", text: t("host.a_new_item")}),
        ...state.order.map((pid) => el("option", {value: pid, text: nameOf(state.products[pid])})));
    }
    for (const select of document.querySelectorAll(".product-select")) {
      if (select.options.length === state.order.length) continue;
      const value = select.value;
      select.replaceChildren(...state.order.map((pid) =>
        el("option", {value: pid, text: nameOf(state.products[pid])})));
      if (value) select.value = value;
    }
  }

  // ---- figures ----

  function statsSoon() {
    clearTimeout(state.statsSoon);
    state.statsSoon = setTimeout(refreshStats, 500);
  }

  async function refreshStats() {
    if (!state.sessionId) return;
    let stats;
    try {
      stats = await state.api.stats(state.sessionId);
    } catch (err) {
      return; // the next round retries; the badge already tells about the connection
    }
    $("#stat-rate").textContent = stats.orders_last_minute;
    $("#stat-gmv").textContent = money(stats.gmv_cents);
    $("#stat-orders").textContent = stats.orders;
    $("#stat-paid").textContent = stats.paid_orders;
    $("#stat-likes").textContent = stats.likes;
    $("#stat-conversion").textContent =
      stats.conversion === null ? "-" : (stats.conversion * 100).toFixed(1) + "%";
    for (const bar of stats.stock) {
      state.allocated[bar.product_id] = bar.allocated;
      if (state.levels[bar.product_id] === undefined) state.levels[bar.product_id] = bar.left;
    }
    renderProducts();
  }

  // Pushed leaderboards name guides by id; the HTTP one names them as the organisation does.
  function renderLeaderboard(guides) {
    for (const g of guides) if (g.name) state.guideNames[g.guide_id] = g.name;
    const unknown = guides.filter((g) => !state.guideNames[g.guide_id] && !state.namesAsked[g.guide_id]);
    if (unknown.length) {
      for (const g of unknown) state.namesAsked[g.guide_id] = true;
      state.api.leaderboard(state.sessionId).then((b) => renderLeaderboard(b.guides)).catch(() => {});
    }
    const body = $("#leaderboard");
    body.replaceChildren();
    if (!guides.length) {
      body.append(el("tr", {}, el("td", {colspan: 4, class: "muted", text: t("host.no_guide_traffic_yet")})));
    }
    for (const g of guides) {
      body.append(el("tr", {"data-guide-id": g.guide_id}, [
        el("td", {text: state.guideNames[g.guide_id] || g.guide_id}), el("td", {text: g.viewers}),
        el("td", {text: g.orders}), el("td", {text: money(g.gmv_cents)})]));
    }
  }

  // ---- muted viewers ----

  async function loadMuted() {
    const listed = await state.api.muted(state.sessionId).catch(() => null);
    if (!listed) return;
    const box = $("#muted");
    box.replaceChildren(...(listed.muted.length ? listed.muted.map((u) => el("li", {"data-user-id": u.user_id}, [
      el("span", {class: "grow", text: u.name}),
      el("button", {class: "small ghost", text: t("host.unmute"),
        onclick: (e) => act(e.currentTarget, () => state.api.moderate(state.sessionId, "unmute", u.user_id),
          t("host.unmuted_toast", {name: u.name})).then((r) => r && loadMuted())}),
    ])) : [el("li", {class: "muted", text: t("host.nobody_is_muted")})]));
  }

  // ---- comments ----

  function addComment(c) {
    const list = $("#comments");
    const who = c.user_id || "";
    const item = el("li", {"data-id": c.id}, [
      el("span", {class: "grow"}, [el("b", {text: t("host.comment_author", {user: c.user})}), c.text,
        c.count > 1 ? el("span", {class: "muted", text: " ×" + c.count}) : null]),
      who && c.role === "viewer" ? el("button", {class: "small ghost", text: t("host.mute"),
        onclick: (e) => act(e.currentTarget, () => state.api.moderate(state.sessionId, "mute", who, c.user),
          t("host.muted_toast", {name: c.user})).then((r) => r && loadMuted())}) : null,
      el("button", {class: "small ghost", text: t("host.delete"),
        onclick: (e) => act(e.currentTarget, () => state.api.deleteComment(state.sessionId, c.id))
          .then((r) => r && item.remove())}),
    ]);
    list.prepend(item);
    while (list.children.length > 200) list.lastChild.remove();
  }

  // ---- coupons, sales, draws ----

  function addCoupon(c) { state.coupons[c.coupon_id] = c; renderCoupons(); }

  function renderCoupons() {
    $("#coupons").replaceChildren(...Object.values(state.coupons).map((c) =>
      el("li", {"data-coupon-id": c.coupon_id}, [el("span", {class: "grow", text: c.title}),
        el("span", {class: "muted", text: t("host.coupon_left", {left: c.left, quantity: c.quantity})})])));
  }

  function addSale(s) {
    state.sales[s.sale_id] = s;
    const field = "sale:" + s.sale_id;
    if (state.levels[field] === undefined) state.levels[field] = s.left === undefined ? s.stock_cap : s.left;
    renderSales();
  }

  function renderSales() {
    $("#sales").replaceChildren(...Object.values(state.sales).map((s) => {
      const p = state.products[s.product_id];
      const left = state.levels["sale:" + s.sale_id];
      const claimed = Math.round((100 * (s.stock_cap - left)) / s.stock_cap);
      const when = s.starts_at > Date.now() ? [t("host.sale_starts_in"), LiveUI.until(s.starts_at)]
        : [t("host.sale_ends_in"), LiveUI.until(s.ends_at)];
      return el("li", {"data-sale-id": s.sale_id}, [
        el("span", {class: "grow"}, [el("b", {text: t("host.sale_at", {title: p ? p.title : s.product_id, price: money(s.sale_price_cents)})}),
          el("br"), ...when, " · ", el("span", {class: "claimed",
            text: t("host.sale_left", {left: left, cap: s.stock_cap, percent: claimed})})]),
        el("button", {class: "small", text: t("host.close_sale"),
          onclick: (e) => act(e.currentTarget, () => state.api.closeSale(state.sessionId, s.sale_id),
            t("host.sale_closed_toast")).then((r) => { if (r) { delete state.sales[s.sale_id]; renderSales(); } })}),
      ]);
    }));
  }

  function renderDraws() {
    $("#draws").replaceChildren(...Object.values(state.draws).map((d) => el("li", {}, [
      el("span", {class: "grow"}, d.done
        ? t(d.winners.length ? "host.draw_won_by" : "host.draw_nobody", {prize: d.prize || t("host.draw"),
          winners: d.winners.join(", "), entrants: d.entrants})
        : [t(d.keyword ? "host.draw_keyword" : "host.draw_everyone", {prize: d.prize || t("host.draw"),
          keyword: d.keyword}), LiveUI.until(d.ends_at)]),
      d.done ? null : el("button", {class: "small", text: t("host.draw_now"),
        onclick: (e) => act(e.currentTarget, () => state.api.closeDraw(state.sessionId, d.draw_id))
          .then((r) => { if (r) { state.draws[d.draw_id] = Object.assign(d, r, {done: true}); renderDraws(); } })}),
    ])));
  }

  // ---- loading past sessions' clips ----

  async function loadPast() {
    const listed = await act(null, () => state.api.listSessions("ended"));
    const box = $("#past");
    box.replaceChildren();
    if (!listed || !listed.items.length) {
      box.append(el("li", {class: "muted", text: t("host.clips_after_end")}));
      return;
    }
    for (const s of listed.items.slice(0, 10)) {
      const clips = el("ul", {class: "list"});
      box.append(el("li", {style: "flex-direction:column;align-items:stretch"}, [
        el("div", {class: "row"}, [el("b", {text: s.title}),
          el("button", {class: "small ghost", text: t("host.show_clips"),
            onclick: (e) => act(e.currentTarget, () => state.api.clips(s.id)).then((list) => {
              if (!list) return;
              clips.replaceChildren(...(list.length ? list : [null]).map((c) => c
                ? el("li", {}, [el("span", {class: "grow", text: c.title}),
                  el("span", {class: "muted", text: t("host.clip_span", {length: duration(c.to_ms - c.from_ms), at: duration(c.from_ms)})})])
                : el("li", {class: "muted", text: t("host.no_clips")})));
            })})]),
        clips,
      ]));
    }
  }

  function duration(ms) {
    const s = Math.round(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // ---- forms ----

  function wireForms() {
    // The forms' suggested values, in the page's language.
    $("#coupon-form").elements.title.value = t("host.coupon_default_title");
    $("#draw-form").elements.prize.value = t("host.draw_default_prize");
    $("#draw-form").elements.keyword.value = t("host.draw_default_keyword");
    $("#new-session").onsubmit = async (event) => {
      event.preventDefault();
      const created = await act(event.submitter, () => state.api.createSession($("#new-title").value),
        t("host.session_created"));
      if (!created) return;
      $("#new-title").value = "";
      await loadSessions();
      await open(created.id);
    };
    $("#start").onclick = (e) => act(e.currentTarget, () => state.api.start(state.sessionId),
      t("host.you_are_live")).then((s) => { if (s) { applySession(s); loadSessions(); } });
    $("#end").onclick = (e) => {
      if (!confirm(t("host.confirm_end"))) return;
      act(e.currentTarget, () => state.api.end(state.sessionId), t("common.session_ended"))
        .then((s) => { if (s) { applySession(s); loadSessions(); loadPast(); } });
    };
    $("#unpin").onclick = (e) => act(e.currentTarget, () => state.api.unpin(state.sessionId), t("host.unpinned_toast"))
      .then((r) => { if (r) { state.pinned = null; renderProducts(); } });
    $("#add-product").onsubmit = async (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const price = cents(f.price.value);
      if (price === null) return toast(t("host.price_not_number"), "error");
      const product = {title: f.title.value, sku: f.sku.value, price_cents: price,
        stock: Number(f.stock.value), limit_per_viewer: f.limit.value ? Number(f.limit.value) : null};
      if (f.variant_of.value) product.variant_of = f.variant_of.value;
      const options = {};
      for (const pair of f.options.value.split(",")) {
        const [name, value] = pair.split("=").map((part) => (part || "").trim());
        if (name && value) options[name] = value;
      }
      if (Object.keys(options).length) product.options = options;
      const image = f.image.files[0];
      const added = await act(event.submitter, async () => {
        const made = await state.api.addProduct(state.sessionId, product);
        if (image) await state.api.uploadImage(state.sessionId, made.product_id, image);
        return made;
      }, t("host.product_added", {title: product.title}));
      if (added) { event.target.reset(); refreshSession(); }
    };
    $("#coupon-form").onsubmit = async (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const kind = f.kind.value;
      const value = kind === "percent_off" ? Number(f.value.value) : cents(f.value.value);
      if (!value) return toast(t("host.coupon_value_missing"), "error");
      const coupon = {title: f.title.value, kind: kind, value: value,
        min_spend_cents: cents(f.min_spend.value || "0") || 0, quantity: Number(f.quantity.value),
        expires_in_s: f.expires.value ? Number(f.expires.value) * 60 : null};
      const dropped = await act(event.submitter, () => state.api.dropCoupon(state.sessionId, coupon),
        t("host.coupon_dropped", {title: coupon.title}));
      if (dropped) addCoupon(dropped);
    };
    $("#sale-form").onsubmit = async (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const price = cents(f.price.value);
      if (price === null) return toast(t("host.sale_price_not_number"), "error");
      const sale = {product_id: f.product.value, sale_price_cents: price,
        stock_cap: Number(f.cap.value), duration_s: Number(f.minutes.value) * 60};
      const opened = await act(event.submitter, () => state.api.openSale(state.sessionId, sale),
        t("host.sale_open_toast"));
      if (opened) addSale(opened);
    };
    $("#draw-form").onsubmit = async (event) => {
      event.preventDefault();
      const f = event.target.elements;
      const draw = {winners: Number(f.winners.value), duration_s: Number(f.seconds.value)};
      if (f.keyword.value.trim()) draw.keyword = f.keyword.value.trim();
      if (f.prize.value.trim()) draw.prize = f.prize.value.trim();
      const opened = await act(event.submitter, () => state.api.openDraw(state.sessionId, draw),
        t("host.draw_open_toast"));
      if (opened) { state.draws[opened.draw_id] = opened; renderDraws(); }
    };
  }

  main();
})();
