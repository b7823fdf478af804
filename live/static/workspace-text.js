/*
 * The guides-at-work strings of the pages (catalog area `workspace.`), through the i18n
 * contract's `window.LiveI18n` (/static/i18n.js) when the page has it. Until that script is
 * on this branch, the same catalog files (live/static/i18n/<lang>/workspace.json) are read
 * here, for the language of `?lang=`, else the browser's, else English; once /static/i18n.js
 * is merged, LiveI18n serves them merged with the other areas and this fallback is unused.
 */
(function () {
  "use strict";
  const LANGS = ["en", "zh-CN"];

  function chosenLang() {
    const asked = new URLSearchParams(location.search).get("lang");
    const wanted = [asked, ...(navigator.languages || [navigator.language])].filter(Boolean);
    for (const tag of wanted) {
      const found = LANGS.find((l) => l.toLowerCase() === tag.toLowerCase()) ||
        LANGS.find((l) => l.split("-")[0] === tag.toLowerCase().split("-")[0]);
      if (found) return found;
    }
    return "en";
  }

  function fill(text, params) {
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      params && params[name] !== undefined ? String(params[name]) : whole);
  }

  let catalog = {};
  const lang = window.LiveI18n ? window.LiveI18n.lang : chosenLang();
  const ready = window.LiveI18n ? window.LiveI18n.ready :
    fetch("/static/i18n/" + lang + "/workspace.json")
      .then((answer) => (answer.ok ? answer.json() : {}))
      .then((loaded) => { catalog = loaded; apply(document); })
      .catch(() => {});

  function t(key, params) {
    if (window.LiveI18n) return window.LiveI18n.t(key, params);
    if (!(key in catalog)) {
      console.error("missing string", key);
      return key;
    }
    return fill(catalog[key], params);
  }

  function money(cents) {
    if (window.LiveI18n) return window.LiveI18n.money(cents);
    return new Intl.NumberFormat(lang, {style: "currency", currency: "CNY", currencyDisplay: "narrowSymbol"})
      .format(cents / 100);
  }

  function apply(root) {
    if (window.LiveI18n) return window.LiveI18n.apply(root);
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    return undefined;
  }

  /** "4 min 05 s" style: how long a viewer has watched. */
  function duration(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return t("workspace.duration.seconds", {seconds: seconds});
    return t("workspace.duration.minutes",
      {minutes: Math.floor(seconds / 60), seconds: String(seconds % 60).padStart(2, "0")});
  }

  window.WorkspaceText = {lang: lang, ready: ready, t: t, money: money, apply: apply, duration: duration};
})();
