/*
 * The guide workspace's reservation cards: the reservations the guide brought for the session
 * shown (guide.js tells it with "live:session"), refreshed every few seconds; and, for an
 * ended session, the follow-up list: who reserved and never came, who came and did not buy,
 * each with a link carrying the guide's code to copy into a chat, and the list as CSV.
 */
(function () {
  "use strict";
  const {$, el, act} = LiveUI;
  const I18n = window.LiveI18n;
  const t = (key, params) => I18n.t(key, params);
  const EVERY_MS = 5000;
  const state = {api: null, sessionId: null, timer: null};

  document.addEventListener("live:session", async (event) => {
    await I18n.ready;
    state.api = event.detail.api;
    state.sessionId = event.detail.sessionId;
    clearInterval(state.timer);
    loadReservations();
    state.timer = setInterval(loadReservations, EVERY_MS);
  });

  document.addEventListener("live:sessions", async (event) => {
    await I18n.ready;
    state.api = event.detail.api;
    if (!event.detail.items.some((s) => s.status !== "ended")) {
      $("#reservations").replaceChildren(el("li", {class: "muted", text: t("schedule.guide_none")}));
    }
    const ended = event.detail.items.filter((s) => s.status === "ended");
    const select = $("#followup-session");
    select.replaceChildren(...ended.map((s) => el("option", {value: s.id, text: s.title})));
    $("#followup-csv").disabled = !ended.length;
    select.onchange = () => loadFollowups(select.value);
    if (ended.length) loadFollowups(ended[0].id);
    else $("#followups").replaceChildren(el("li", {class: "muted", text: t("schedule.guide_no_ended")}));
  });

  function who(item) {
    return item.viewer_name || t("schedule.guide_viewer", {id: item.viewer_id});
  }

  async function loadReservations() {
    let listed;
    try {
      listed = await state.api.myReservations({session_id: state.sessionId, limit: 200});
    } catch (err) {
      return; // the badge says the server is away; the next round retries
    }
    $("#reservations-count").textContent = t("schedule.guide_count", {count: listed.items.length});
    const list = $("#reservations");
    if (!listed.items.length) {
      list.replaceChildren(el("li", {class: "muted", text: t("schedule.guide_none")}));
      return;
    }
    list.replaceChildren(...listed.items.map((r) => el("li", {"data-viewer-id": r.viewer_id}, [
      el("span", {class: "grow", text: who(r)}),
      el("span", {class: "muted", text: t("schedule.guide_reserved_at", {time: I18n.relative(r.created_at)})}),
    ])));
  }

  async function loadFollowups(sessionId) {
    const list = $("#followups");
    const report = await act(null, () => state.api.noShows(sessionId));
    if (!report) return;
    if (!report.items.length) {
      list.replaceChildren(el("li", {class: "muted", text: t("schedule.guide_all_bought")}));
      return;
    }
    list.replaceChildren(...report.items.map((item) => {
      const url = location.origin + item.link;
      const input = el("input", {readonly: "", value: url,
        "aria-label": t(item.clip_id ? "schedule.guide_link_clip" : "schedule.guide_link_replay")});
      const when = item.kind === "no_show"
        ? t("schedule.guide_reserved_at", {time: I18n.dateTime(item.reserved_at)})
        : t("schedule.guide_seen_at", {time: I18n.time(item.last_seen_at)});
      return el("li", {class: "followup", "data-kind": item.kind, "data-viewer-id": item.viewer_id}, [
        el("div", {class: "grow"}, [
          el("span", {class: "badge kind-" + item.kind,
            text: t(item.kind === "no_show" ? "schedule.guide_no_show" : "schedule.guide_no_buy")}),
          " ", el("b", {text: who(item)}), el("br"), el("span", {class: "muted", text: when}),
          el("div", {class: "copy"}, [input,
            el("button", {class: "small", text: t("schedule.guide_copy"), onclick: () => copy(input)})]),
        ]),
      ]);
    }));
  }

  function copy(input) {
    input.select();
    const done = () => LiveUI.toast(t("schedule.guide_copied"), "ok");
    if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, () => document.execCommand("copy"));
    else { document.execCommand("copy"); done(); }
  }

  $("#followup-csv").onclick = (event) => {
    const sessionId = $("#followup-session").value;
    act(event.currentTarget, async () => {
      const text = await state.api.noShowsCsv(sessionId);
      const link = el("a", {href: URL.createObjectURL(new Blob([text], {type: "text/csv"})),
        download: "no-shows-" + sessionId + ".csv"});
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    });
  };
})();
