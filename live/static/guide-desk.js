/*
 * The guide's desk in the workspace: my viewers now (watch time, products seen, holds not
 * paid, waitlists) from the `workspace` frames of the guide's own room socket, the questions
 * my viewers asked me with a private reply box, and one-tap nudge coupons from my budget.
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

  class Desk {
    constructor({room, api, sessionId, products}) {
      this.room = room;
      this.api = api;
      this.sessionId = sessionId;
      this.products = products;
      this.viewers = {};
      this.questions = [];
      this.budget = null;
      this.offset = 0;  // server clock - ours, so watch times tick from the server's `ts`
      room.on("workspace", (frame) => this.fold(frame));
      this.timer = setInterval(() => this.renderTimes(), 1000);
      LiveI18n.ready.then(() => this.render());
    }

    close() { clearInterval(this.timer); }

    fold(frame) {
      if (frame.session_id !== this.sessionId) return;
      this.offset = frame.ts - Date.now();
      if (frame.full) this.viewers = {};
      for (const id of frame.gone || []) delete this.viewers[id];
      for (const entry of frame.viewers) this.viewers[entry.viewer_id] = entry;
      // Pins since the last frame, for the viewers this frame did not list (those it lists
      // come with their products already).
      const listed = new Set(frame.viewers.map((entry) => entry.viewer_id));
      for (const productId of frame.pins || []) {
        for (const entry of Object.values(this.viewers)) {
          if (!listed.has(entry.viewer_id) && !entry.pinned.includes(productId)) entry.pinned.push(productId);
        }
      }
      if (frame.questions) this.questions = frame.questions;
      if ("budget" in frame) this.budget = frame.budget;
      this.render();
    }

    title(productId) {
      const p = this.products[productId];
      return p ? p.title : productId;
    }

    nudgeCents() {
      const value = Number($("#nudge-value").value);
      return Number.isFinite(value) && value > 0 ? Math.round(value * 100) : 0;
    }

    render() {
      this.renderBudget();
      this.renderViewers();
      this.renderQuestions();
    }

    renderBudget() {
      const b = this.budget;
      $("#budget-line").textContent = b
        ? t("workspace.budget.left", {count: b.count_left, value: money(b.value_left_cents)})
        : t("workspace.budget.none");
    }

    renderViewers() {
      const list = $("#viewers-now");
      const entries = Object.values(this.viewers).sort((a, b) => a.since_ms - b.since_ms);
      $("#now-count").textContent = t("workspace.now.count", {count: entries.length});
      if (!entries.length) {
        list.replaceChildren(el("li", {class: "muted", text: t("workspace.now.empty")}));
        return;
      }
      const value = this.nudgeCents();
      const b = this.budget;
      const affordable = b && value > 0 && b.count_left > 0 && b.value_left_cents >= value;
      list.replaceChildren(...entries.map((v) => el("li", {class: "viewer-now", "data-viewer-id": v.viewer_id}, [
        el("div", {class: "grow"}, [
          el("b", {text: v.name}), " ",
          el("span", {class: "muted watched", "data-since": v.since_ms, "data-before": v.watched_ms,
            text: this.watchedWords(v)}),
          v.pinned.length ? el("div", {class: "seen", text: t("workspace.now.pinned",
            {products: v.pinned.map((id) => this.title(id)).join(", ")})}) : null,
          ...v.holds.map((h) => el("div", {class: "hold " + h.status, "data-order-id": h.order_id,
            "data-expires": h.expires_ms, "data-product": this.title(h.product_id),
            text: this.holdWords(h)})),
          v.waitlist.length ? el("div", {class: "waiting", text: t("workspace.now.waitlist",
            {products: v.waitlist.map((id) => this.title(id)).join(", ")})}) : null,
        ]),
        el("button", {class: "small nudge", disabled: !affordable,
          text: t("workspace.nudge.send", {value: money(value)}),
          onclick: (e) => this.nudge(e.currentTarget, v)}),
      ])));
    }

    watchedWords(v) {
      const now = Date.now() + this.offset;
      return t("workspace.now.watched", {duration: duration(v.watched_ms + now - v.since_ms)});
    }

    holdWords(h) {
      const product = this.title(h.product_id);
      if (h.status === "expired") return t("workspace.now.hold_expired", {product: product});
      const left = h.expires_ms - (Date.now() + this.offset);
      return t("workspace.now.hold_reserved", {product: product, left: duration(left)});
    }

    renderTimes() {
      for (const node of document.querySelectorAll("#viewers-now .watched")) {
        const v = this.viewers[node.closest("[data-viewer-id]").dataset.viewerId];
        if (v) node.textContent = this.watchedWords(v);
      }
      for (const node of document.querySelectorAll("#viewers-now .hold.reserved")) {
        const v = this.viewers[node.closest("[data-viewer-id]").dataset.viewerId];
        const hold = v && v.holds.find((h) => h.order_id === node.dataset.orderId);
        if (hold) node.textContent = this.holdWords(hold);
      }
    }

    async nudge(button, viewer) {
      const sent = await act(button, () => this.api.nudge(this.sessionId, viewer.viewer_id, this.nudgeCents()),
        () => t("workspace.nudge.sent", {name: viewer.name}));
      if (sent) { this.budget = sent.budget; this.render(); }
    }

    renderQuestions() {
      const list = $("#questions");
      if (!this.questions.length) {
        list.replaceChildren(el("li", {class: "muted", text: t("workspace.questions.empty")}));
        return;
      }
      // Keep what the guide is typing: only questions new to the list are drawn.
      const shown = new Set([...list.querySelectorAll("[data-question-id]")].map((n) => n.dataset.questionId));
      const open = new Set(this.questions.map((q) => q.question_id));
      for (const node of [...list.children]) {
        if (!node.dataset.questionId || !open.has(node.dataset.questionId)) node.remove();
      }
      for (const q of this.questions) {
        if (shown.has(q.question_id)) continue;
        const input = el("input", {class: "reply", placeholder: t("workspace.questions.reply_placeholder"),
          "aria-label": t("workspace.questions.reply_placeholder"), maxlength: 500});
        list.append(el("li", {class: "question", "data-question-id": q.question_id}, [
          el("div", {class: "grow"}, [
            el("span", {class: "muted", text: t("workspace.questions.asked_by", {name: q.viewer_name})}), " ",
            el("b", {class: "text", text: q.text}),
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
      if (done) {
        this.questions = this.questions.filter((q) => q.question_id !== question.question_id);
        this.renderQuestions();
      }
    }
  }

  window.GuideDesk = {
    attach(options) {
      const desk = new Desk(options);
      $("#nudge-value").oninput = () => desk.renderViewers();
      return desk;
    },
  };
})();
