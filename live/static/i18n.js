/*
 * STAND-IN for the i18n machinery of issue 19 part 6 (another branch): the contract's
 * window.LiveI18n (lang, t, money, dateTime, time, relative, apply, ready), reading only the
 * schedule area's catalog from /static/i18n/<lang>/schedule.json. The real file, with the
 * server's language choice and GET /i18n/<lang>.json, replaces this one when the branches meet.
 */
(function () {
  "use strict";
  const SUPPORTED = ["en", "zh-CN"];

  function choose() {
    const asked = new URLSearchParams(location.search).get("lang") || "";
    const wanted = [asked].concat(navigator.languages || []);
    for (const tag of wanted) {
      if (!tag) continue;
      if (SUPPORTED.includes(tag)) return tag;
      if (tag.toLowerCase().startsWith("zh")) return "zh-CN";
    }
    return "en";
  }

  const lang = choose();
  let catalog = {};

  function t(key, params) {
    if (!(key in catalog)) {
      console.error("i18n: no text for " + key + " in " + lang);
      return key;
    }
    return catalog[key].replace(/\{(\w+)\}/g, (whole, name) =>
      params && params[name] !== undefined ? String(params[name]) : whole);
  }

  function money(cents, currency) {
    return new Intl.NumberFormat(lang, {style: "currency", currency: currency || "CNY"})
      .format(cents / 100);
  }

  function dateTime(ms) {
    return new Intl.DateTimeFormat(lang, {month: "short", day: "numeric", weekday: "short",
      hour: "2-digit", minute: "2-digit"}).format(new Date(ms));
  }

  function time(ms) {
    return new Intl.DateTimeFormat(lang, {hour: "2-digit", minute: "2-digit"}).format(new Date(ms));
  }

  function relative(ms) {
    const format = new Intl.RelativeTimeFormat(lang, {numeric: "auto"});
    const s = Math.round((ms - Date.now()) / 1000);
    if (Math.abs(s) < 60) return format.format(s, "second");
    if (Math.abs(s) < 3600) return format.format(Math.round(s / 60), "minute");
    if (Math.abs(s) < 86400) return format.format(Math.round(s / 3600), "hour");
    return format.format(Math.round(s / 86400), "day");
  }

  function apply(root) {
    const scope = root || document;
    for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const [attribute, name] of [["data-i18n-placeholder", "placeholder"],
      ["data-i18n-title", "title"], ["data-i18n-aria-label", "aria-label"]]) {
      for (const node of scope.querySelectorAll("[" + attribute + "]")) {
        node.setAttribute(name, t(node.getAttribute(attribute)));
      }
    }
  }

  const ready = fetch("/static/i18n/" + lang + "/schedule.json")
    .then((answer) => answer.json())
    .then((loaded) => {
      catalog = loaded;
      document.documentElement.lang = lang;
      apply(document);
    });

  window.LiveI18n = {lang: lang, t: t, money: money, dateTime: dateTime, time: time,
    relative: relative, apply: apply, ready: ready};
})();
