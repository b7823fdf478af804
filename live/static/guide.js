/*
 * The guide workspace: my share link and QR poster for a session, my attributed orders (live:
 * refreshed when the room reports a purchase, and every few seconds), my summary and
 * commission, and the clips of past sessions to share again.
 */
(function () {
  "use strict";
  const {$, el, money, act} = LiveUI;
  const t = LiveI18n.t;
  const ORDERS_EVERY_MS = 3000;

  const state = {api: null, token: null, sessionId: null, room: null, products: {},
    scope: "session", timer: null, soon: null, desk: null};

  async function main() {
    await LiveI18n.ready;
    const {token, claims} = await LiveUI.signIn({page: "guide", roles: ["guide"],
      defaultName: t("guide.default_name")});
    state.api = LiveClient.api({token: token});
    state.token = token;
    $("#who").textContent = (claims.name || claims.sub) + (claims.store ? " · " + claims.store : "") +
      " · " + claims.brand;
    $("#signout").onclick = () => LiveUI.signOut("guide");
    $("#workspace").hidden = false;
    wire();
    const listed = await act(null, () => state.api.listSessions());
    const items = listed ? listed.items : [];
    const select = $("#session-select");
    select.replaceChildren(...items.filter((s) => s.status !== "ended").map((s) =>
      el("option", {value: s.id, text: t(s.status === "live" ? "guide.session_live" : "guide.session_upcoming",
        {title: s.title})})));
    if (!select.children.length) select.append(el("option", {value: "", text: t("guide.no_upcoming_session")}));
    select.onchange = () => select.value && open(select.value);
    const wanted = new URLSearchParams(location.search).get("session");
    const first = items.find((s) => s.id === wanted) || items.find((s) => s.status === "live") ||
      items.find((s) => s.status === "scheduled" || s.status === "draft");
    // The reservations cards (guide-reservations.js) follow the brand's sessions and this one.
    document.dispatchEvent(new CustomEvent("live:sessions", {detail: {api: state.api, items: items}}));
    if (first) {
      select.value = first.id;
      await open(first.id);
    }
    loadClips(items.filter((s) => s.status === "ended"));
    state.timer = setInterval(refresh, ORDERS_EVERY_MS);
  }

  async function open(sessionId) {
    state.sessionId = sessionId;
    document.dispatchEvent(new CustomEvent("live:session", {detail: {api: state.api, sessionId: sessionId}}));
    if (state.room) state.room.close();
    if (state.desk) state.desk.close();
    const session = await act(null, () => state.api.session(sessionId));
    if (!session) return;
    for (const p of session.products) state.products[p.product_id] = p;
    const shared = await act(null, () => state.api.share(sessionId));
    if (shared) showShare(shared);
    // The guide's own socket: any role may join; purchases in the room refresh my orders.
    const room = LiveClient.connect({wsUrl: session.ws_url, token: state.token});
    state.room = room;
    // The same socket is my workspace subscription: my viewers now, their questions, nudges.
    state.desk = GuideDesk.attach({room: room, api: state.api, sessionId: sessionId, products: state.products});
    LiveUI.connectionBadge(room, $("#connection"));
    room.on("purchase", refreshSoon);
    room.on("stock", refreshSoon);
    refresh();
  }

  function showShare(shared) {
    state.shortCode = shared.short_code;
    $("#share-url").value = shared.short_url;
    $("#qr").innerHTML = shared.qr_svg; // SVG drawn by the server (segno) from our own URL
  }

  function refreshSoon() {
    clearTimeout(state.soon);
    state.soon = setTimeout(refresh, 300);
  }

  async function refresh() {
    const query = state.scope === "session" && state.sessionId ? {session_id: state.sessionId} : {};
    let orders, summary;
    try {
      [orders, summary] = await Promise.all([
        state.api.myOrders(Object.assign({limit: 50}, query)), state.api.mySummary(query)]);
    } catch (err) {
      return; // shown by the connection badge; the next round retries
    }
    renderOrders(orders.items);
    $("#sum-viewers").textContent = summary.viewers_brought;
    $("#sum-conversion").textContent =
      summary.conversion === null ? "-" : (summary.conversion * 100).toFixed(1) + "%";
    $("#sum-orders").textContent = summary.orders;
    $("#sum-paid").textContent = summary.paid_orders;
    $("#sum-gmv").textContent = money(summary.gmv_cents);
    $("#sum-commission").textContent = money(summary.commission_cents);
    $("#sum-upstream").textContent = money(summary.upstream_commission_cents);
  }

  const STATUSES = ["reserved", "paid", "expired", "cancelled", "refund_required", "refunded"];

  function renderOrders(items) {
    const body = $("#orders");
    body.replaceChildren();
    if (!items.length) {
      body.append(el("tr", {}, el("td", {colspan: 6, class: "muted", text: t("guide.no_orders_through_your_link")})));
    }
    for (const o of items) {
      const p = state.products[o.product_id];
      body.append(el("tr", {"data-order-id": o.order_id, "data-status": o.status}, [
        el("td", {"data-label": t("guide.time"), text: LiveI18n.time(o.ts)}),
        el("td", {"data-label": t("shop.product"), text: p ? p.title : o.product_id}),
        el("td", {"data-label": t("guide.qty"), text: o.qty}),
        el("td", {"data-label": t("guide.amount"), text: money(o.amount_cents)}),
        el("td", {"data-label": t("guide.status"), class: "status",
          text: STATUSES.includes(o.status) ? t("guide.status_" + o.status) : o.status}),
        el("td", {"data-label": t("guide.commission"), class: "commission",
          text: o.commission_cents === null ? "-" : money(o.commission_cents)}),
      ]));
    }
  }

  async function loadClips(ended) {
    const list = $("#clips");
    list.replaceChildren();
    if (!ended.length) {
      list.append(el("li", {class: "muted", text: t("guide.clips_appear_here")}));
      return;
    }
    for (const s of ended.slice(0, 10)) {
      const clips = await state.api.clips(s.id).catch((err) => {
        list.append(el("li", {class: "muted", text: t("guide.clips_failed", {title: s.title, reason: err.message})}));
        return [];
      });
      for (const c of clips) {
        list.append(el("li", {}, [
          el("span", {class: "grow"}, [el("b", {text: c.title}), el("br"),
            el("span", {class: "muted", text: s.title})]),
          el("button", {class: "small", text: t("guide.share"),
            onclick: (e) => act(e.currentTarget, () => state.api.share(s.id, c.clip_id)).then((shared) => {
              if (!shared) return;
              $("#clip-share").hidden = false;
              $("#clip-url").value = shared.short_url;
              $("#clip-qr").innerHTML = shared.qr_svg;
            })}),
        ]));
      }
    }
  }

  function copy(input) {
    input.select();
    const done = () => LiveUI.toast(t("guide.link_copied"), "ok");
    if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, () => document.execCommand("copy"));
    else { document.execCommand("copy"); done(); }
  }

  function wire() {
    $("#copy").onclick = () => copy($("#share-url"));
    $("#revoke").onclick = (e) => {
      if (!confirm(t("guide.confirm_withdraw"))) return;
      act(e.currentTarget, () => state.api.revokeShare(state.shortCode), t("guide.link_withdrawn"))
        .then((r) => r && act(null, () => state.api.share(state.sessionId)).then((s) => s && showShare(s)));
    };
    $("#clip-copy").onclick = () => copy($("#clip-url"));
    $("#poster").onclick = (e) => act(e.currentTarget, async () => {
      // The PNG needs the guide's token: fetch it, then hand the browser a local file.
      const answer = await fetch(state.api.posterUrl(state.sessionId),
        {headers: {Authorization: "Bearer " + state.token}});
      if (!answer.ok) throw new LiveClient.LiveError("unavailable", "poster", answer.status);
      const link = el("a", {href: URL.createObjectURL(await answer.blob()),
        download: "live-" + state.sessionId + ".png"});
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    });
    for (const [button, scope] of [["#scope-session", "session"], ["#scope-all", "all"]]) {
      $(button).onclick = () => {
        state.scope = scope;
        $("#scope-session").className = "small" + (scope === "session" ? "" : " ghost");
        $("#scope-all").className = "small" + (scope === "all" ? "" : " ghost");
        refresh();
      };
    }
  }

  main();
})();
