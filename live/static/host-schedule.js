/*
 * The host panel's schedule card: give the session shown by the panel (host.js tells it with a
 * "live:session" event) a start time and a cover, which makes it a scheduled session viewers
 * reserve from guides' links; and its reservations, in total and per guide, every few seconds.
 */
(function () {
  "use strict";
  const {$, el, act} = LiveUI;
  const I18n = window.LiveI18n;
  const t = (key, params) => I18n.t(key, params);
  const EVERY_MS = 5000;
  const state = {api: null, session: null, timer: null};

  document.addEventListener("live:session", async (event) => {
    await I18n.ready;
    const changed = !state.session || state.session.id !== event.detail.session.id;
    state.api = event.detail.api;
    state.session = event.detail.session;
    render();
    if (changed) {
      clearInterval(state.timer);
      refresh();
      state.timer = setInterval(refresh, EVERY_MS);
    }
  });

  // datetime-local speaks the browser's local time, without a zone.
  function localInput(ms) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  function render() {
    const s = state.session;
    const before = s.status === "draft" || s.status === "scheduled";
    $("#schedule-state").textContent = s.status === "scheduled"
      ? t("schedule.starts_at", {time: I18n.dateTime(s.starts_at)})
      : before ? t("schedule.host_not_scheduled") : t("schedule.host_started");
    $("#schedule-form").hidden = !before;
    if (s.starts_at && document.activeElement !== $("#schedule-at")) {
      $("#schedule-at").value = localInput(s.starts_at);
    }
    const link = "/watch/" + encodeURIComponent(s.id);
    $("#schedule-link").href = link;
    $("#schedule-link").textContent = link;
  }

  async function refresh() {
    if (!state.session) return;
    let totals;
    try {
      totals = await state.api.reservations(state.session.id);
    } catch (err) {
      return; // the panel's badge says the server is away; the next round retries
    }
    $("#reservation-total").textContent = totals.total;
    const list = $("#reservation-guides");
    list.replaceChildren(...totals.guides.map((g) => el("li", {"data-guide-id": g.guide_id}, [
      el("span", {class: "grow", text: g.name}), el("b", {text: g.reservations}),
    ])));
    if (totals.unattributed) {
      list.append(el("li", {class: "muted", text: t("schedule.host_unattributed", {count: totals.unattributed})}));
    }
    if (!totals.total) list.append(el("li", {class: "muted", text: t("schedule.host_none")}));
  }

  async function save(event) {
    event.preventDefault();
    const id = state.session.id;
    const cover = $("#schedule-cover").files[0];
    if (cover) {
      const uploaded = await act(event.submitter, () => state.api.uploadCover(id, cover),
        t("schedule.host_cover_saved"));
      if (!uploaded) return;
      $("#schedule-cover").value = "";
    }
    const at = $("#schedule-at").value;
    if (at) {
      const session = await act(event.submitter,
        () => state.api.editSession(id, {starts_at: new Date(at).getTime()}),
        t("schedule.host_scheduled_toast"));
      // The panel lists and shows the session anew (its badge, its start button).
      if (session) document.dispatchEvent(new CustomEvent("live:session-changed"));
    }
  }

  $("#schedule-form").onsubmit = save;
})();
