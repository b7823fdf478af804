/*
 * The host panel's "guides at work": unclaimed questions (viewers with no guide, or whose
 * guide is away) with a reply box, each guide's answers and answer times, and the guides'
 * coupon budgets for this session. Questions arrive on the host's socket; the lists are read
 * again when they change and every few seconds.
 */
(function () {
  "use strict";
  const {$, el, act} = LiveUI;
  const {t, money} = LiveI18n;

  /** How long, in minutes and seconds ("4 min 05 s"). */
  function duration(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return t("workspace.duration.seconds", {seconds: seconds});
    return t("workspace.duration.minutes",
      {minutes: Math.floor(seconds / 60), seconds: String(seconds % 60).padStart(2, "0")});
  }
  const EVERY_MS = 5000;

  class Guides {
    constructor({room, api, sessionId}) {
      this.api = api;
      this.sessionId = sessionId;
      this.soon = null;
      room.on("question", () => this.refreshSoon());
      room.on("question_answered", () => this.refreshSoon());
      this.timer = setInterval(() => this.refresh(), EVERY_MS);
      $("#budget-form").onsubmit = (e) => { e.preventDefault(); this.setBudget(e.submitter); };
      // Enabled only now: a tap before the session's panel is wired would submit the bare form.
      $("#budget-form button").disabled = false;
      LiveI18n.ready.then(() => this.refresh());
    }

    close() { clearInterval(this.timer); clearTimeout(this.soon); }

    refreshSoon() {
      clearTimeout(this.soon);
      this.soon = setTimeout(() => this.refresh(), 200);
    }

    async refresh() {
      let questions, budgets;
      try {
        [questions, budgets] = await Promise.all([
          this.api.questions(this.sessionId), this.api.budgets(this.sessionId)]);
      } catch (err) {
        return; // the connection badge says so; the next round retries
      }
      this.renderUnclaimed(questions.unclaimed || []);
      this.renderStats(questions.guides || []);
      this.renderBudgets(budgets.items);
    }

    renderUnclaimed(items) {
      const list = $("#unclaimed");
      if (!items.length) {
        list.replaceChildren(el("li", {class: "muted", text: t("workspace.host.unclaimed_empty")}));
        return;
      }
      const shown = new Set([...list.querySelectorAll("[data-question-id]")].map((n) => n.dataset.questionId));
      const open = new Set(items.map((q) => q.question_id));
      for (const node of [...list.children]) {
        if (!node.dataset.questionId || !open.has(node.dataset.questionId)) node.remove();
      }
      for (const q of items) {
        if (shown.has(q.question_id)) continue;
        const input = el("input", {class: "reply", maxlength: 500,
          placeholder: t("workspace.questions.reply_placeholder"),
          "aria-label": t("workspace.questions.reply_placeholder")});
        list.append(el("li", {class: "question", "data-question-id": q.question_id}, [
          el("div", {class: "grow"}, [
            el("span", {class: "muted", text: t("workspace.questions.asked_by", {name: q.viewer_name})}), " ",
            el("b", {text: q.text}),
            el("form", {class: "copy", onsubmit: (e) => { e.preventDefault(); this.reply(q, input, e.submitter); }}, [
              input, el("button", {class: "small", text: t("workspace.questions.reply")}),
            ]),
          ]),
        ]));
      }
    }

    async reply(question, input, button) {
      const text = input.value.trim();
      if (!text) return;
      const done = await act(button, () => this.api.answer(this.sessionId, question.question_id, text),
        t("workspace.questions.replied"));
      if (done) this.refresh();
    }

    renderStats(figures) {
      const body = $("#guide-answers");
      if (!figures.length) {
        body.replaceChildren(el("tr", {}, el("td", {colspan: 4, class: "muted", text: t("workspace.host.stats_empty")})));
        return;
      }
      const time = (ms) => (ms === null ? "-" : duration(ms));
      body.replaceChildren(...figures.map((g) => el("tr", {"data-guide-id": g.guide_id}, [
        el("td", {"data-label": t("workspace.host.stats_guide"), text: g.guide_id}),
        el("td", {"data-label": t("workspace.host.stats_answered"), class: "answered",
          text: t("workspace.host.answered_of", {answered: g.answered, questions: g.questions})}),
        el("td", {"data-label": t("workspace.host.stats_median"), text: time(g.median_answer_ms)}),
        el("td", {"data-label": t("workspace.host.stats_p90"), text: time(g.p90_answer_ms)}),
      ])));
    }

    renderBudgets(items) {
      const list = $("#budgets");
      if (!items.length) {
        list.replaceChildren(el("li", {class: "muted", text: t("workspace.host.budgets_empty")}));
        return;
      }
      list.replaceChildren(...items.map((b) => el("li", {"data-guide-id": b.guide_id, text: t("workspace.host.budget_row", {
        guide: b.guide_id, count_left: b.count_left, count: b.count,
        value_left: money(b.value_left_cents), value_cap: money(b.value_cap_cents)})})));
    }

    async setBudget(button) {
      const guideId = $("#budget-guide").value.trim();
      const count = Number($("#budget-count").value);
      const cap = Math.round(Number($("#budget-value").value) * 100);
      if (!guideId) return;
      const done = await act(button, () => this.api.setBudget(this.sessionId, guideId, count, cap),
        t("workspace.host.budget_saved"));
      if (done) this.refresh();
    }
  }

  window.HostGuides = {attach: (options) => new Guides(options)};
})();
