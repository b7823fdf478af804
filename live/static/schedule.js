/*
 * The countdown and reservation page (预约) of a scheduled session, at /watch/{id} until it goes
 * live: the cover, a countdown on the server's clock, the 预约 button and its reserved state
 * (cancel), how many reserved, the products. A guide's ?share= code goes with the
 * reservation, so the viewer is bound to that guide as joining through the link would. Once
 * the session is live the page offers the room (the same link now opens it).
 */
(function () {
  "use strict";
  const {$, el, act} = LiveUI;
  const I18n = window.LiveI18n;
  const t = (key, params) => I18n.t(key, params);

  const sessionId = decodeURIComponent(location.pathname.split("/").pop());
  const share = new URLSearchParams(location.search).get("share");
  // How often the page reads the schedule again (the count, a moved start, going live).
  const REFRESH_MS = 15000;
  // Past the start, how often it looks for the host to go live.
  const WAITING_MS = 3000;
  const state = {api: null, schedule: null, ticker: null, poll: null};

  // The share code's payload names the brand (`b`): the development sign-in uses it.
  function brandOfShare(code) {
    if (!code) return "";
    const payload = LiveUI.claimsOf("x." + code.split(".")[0] + ".x");
    return (payload && payload.b) || "";
  }

  async function main() {
    await I18n.ready;
    $("#signin-brand").value = brandOfShare(share);
    // The room page's sign-in: the token kept here is the one the room uses once live.
    const {token} = await LiveUI.signIn({page: "watch", roles: ["viewer"],
      defaultName: "Viewer " + Math.floor(Math.random() * 1000)});
    state.api = LiveClient.api({token: token});
    $("#preview").hidden = false;
    $("#reserve").onclick = (event) => reserve(event.currentTarget);
    $("#cancel").onclick = (event) => cancel(event.currentTarget);
    const roomLink = "/watch/" + encodeURIComponent(sessionId) + (share ? "?share=" + encodeURIComponent(share) : "");
    $("#join").href = roomLink;
    $("#replay").href = "/replay/" + encodeURIComponent(sessionId) + (share ? "?share=" + encodeURIComponent(share) : "");
    await load();
    state.ticker = setInterval(tick, 1000);
  }

  async function load() {
    const schedule = await act(null, () => state.api.schedule(sessionId));
    clearTimeout(state.poll);
    if (schedule) {
      state.schedule = schedule;
      render();
    }
    const waiting = state.schedule && state.schedule.status === "scheduled" &&
      LiveClient.remainingMs(state.schedule) === 0;
    if (!state.schedule || ["scheduled", "draft"].includes(state.schedule.status)) {
      state.poll = setTimeout(load, waiting ? WAITING_MS : REFRESH_MS);
    }
  }

  function render() {
    const s = state.schedule;
    document.title = s.title + " · " + t("schedule.page_title");
    $("#title").textContent = s.title;
    if (s.cover_url) $("#cover").style.backgroundImage = "url(" + JSON.stringify(s.cover_url) + ")";
    $("#when").textContent = s.starts_at ? t("schedule.starts_at", {time: I18n.dateTime(s.starts_at)})
      : t("schedule.no_start");
    const reserved = s.reserved;
    const button = $("#reserve");
    button.dataset.state = reserved ? "reserved" : "none";
    button.textContent = reserved ? t("schedule.reserved") : t("schedule.reserve");
    button.setAttribute("aria-pressed", reserved ? "true" : "false");
    $("#cancel").hidden = !reserved;
    $("#count").textContent = t("schedule.count", {count: s.reservations});
    const open = s.status === "scheduled";
    $("#countdown-panel").hidden = !open;
    $("#live-panel").hidden = s.status !== "live";
    $("#ended-panel").hidden = s.status !== "ended";
    renderProducts(s.products);
    tick();
  }

  function renderProducts(products) {
    $("#products-title").textContent = t("schedule.products", {count: products.length});
    $("#products-empty").hidden = products.length > 0;
    $("#products").replaceChildren(...products.map((p) => el("li", {"data-product-id": p.product_id}, [
      p.image_url ? el("img", {class: "thumb", src: p.image_url, alt: ""})
        : el("span", {class: "thumb"}),
      el("span", {class: "name", text: p.title}),
      el("span", {class: "price", text: I18n.money(p.price_cents)}),
    ])));
  }

  function tick() {
    const s = state.schedule;
    if (!s || s.status !== "scheduled") return;
    const left = LiveClient.remainingMs(s);
    if (left === 0) {
      $("#countdown-label").textContent = t("schedule.starting");
    } else {
      $("#countdown-label").textContent = t("schedule.starts_in");
    }
    const total = Math.ceil(left / 1000);
    const days = Math.floor(total / 86400);
    const pad = (n) => String(n).padStart(2, "0");
    $("#clock-days").hidden = days === 0;
    $("#clock-days").textContent = t("schedule.days", {days: days});
    $("#clock-h").textContent = pad(Math.floor(total % 86400 / 3600));
    $("#clock-m").textContent = pad(Math.floor(total % 3600 / 60));
    $("#clock-s").textContent = pad(total % 60);
  }

  async function reserve(button) {
    if (state.schedule.reserved) return;
    const made = await act(button, () => state.api.reserve(sessionId, share),
      t("schedule.reserved_toast"));
    if (made) await load();
  }

  async function cancel(button) {
    const done = await act(button, () => state.api.cancelReservation(sessionId),
      t("schedule.cancelled_toast"));
    if (done) await load();
  }

  main();
})();
