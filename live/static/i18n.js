/*
 * i18n.js: the page's sentences in its language. The server chose the language for the page
 * request (?lang=, the brand's setting, Accept-Language, en) and wrote it in <html lang>; this
 * loads that language's catalog from /i18n/<lang>.json and fills the elements that carry
 * data-i18n (textContent), data-i18n-placeholder, data-i18n-title, data-i18n-aria-label.
 * Page scripts `await LiveI18n.ready` before rendering dynamic text, and every sentence they
 * show goes through t(key, params). Load before the page's own scripts. Defines window.LiveI18n.
 */
(function () {
  "use strict";

  const lang = document.documentElement.lang || "en";
  let catalog = {};

  // A missing key shows itself (so it is seen on the page) and says so in the console.
  function t(key, params) {
    let text = catalog[key];
    if (text === undefined) {
      console.error("i18n: no sentence for " + key + " in " + lang);
      return key;
    }
    if (params) {
      text = text.replace(/\{(\w+)\}/g, (whole, name) =>
        params[name] === undefined || params[name] === null ? whole : String(params[name]));
    }
    return text;
  }

  const ATTRIBUTES = [
    ["data-i18n-placeholder", "placeholder"],
    ["data-i18n-title", "title"],
    ["data-i18n-aria-label", "aria-label"],
  ];

  function apply(root) {
    const scope = root || document;
    for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const [marker, attribute] of ATTRIBUTES) {
      for (const node of scope.querySelectorAll("[" + marker + "]")) {
        node.setAttribute(attribute, t(node.getAttribute(marker)));
      }
    }
  }

  // Yuan amounts: the narrow symbol (¥ in both languages: Chinese shoppers read CN¥ as foreign).
  const moneyFormats = {};
  function money(cents, currency) {
    if (cents === null || cents === undefined) return "-";
    const code = currency || "CNY";
    if (!moneyFormats[code]) {
      moneyFormats[code] = new Intl.NumberFormat(lang, {
        style: "currency", currency: code, currencyDisplay: "narrowSymbol",
        minimumFractionDigits: 2, maximumFractionDigits: 2,
      });
    }
    return moneyFormats[code].format(cents / 100);
  }

  const dateTimeFormat = new Intl.DateTimeFormat(lang, {dateStyle: "medium", timeStyle: "short"});
  const timeFormat = new Intl.DateTimeFormat(lang, {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  const relativeFormat = new Intl.RelativeTimeFormat(lang, {numeric: "auto"});

  function dateTime(ms) {
    return dateTimeFormat.format(new Date(ms));
  }

  function time(ms) {
    return timeFormat.format(new Date(ms));
  }

  // "in 5 minutes", "3 hours ago": the largest unit that fits.
  function relative(ms) {
    const seconds = Math.round((ms - Date.now()) / 1000);
    const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
    }
    return relativeFormat.format(seconds, "second");
  }

  const ready = fetch("/i18n/" + encodeURIComponent(lang) + ".json")
    .then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then((loaded) => { catalog = loaded; })
    .catch((err) => { console.error("i18n: the " + lang + " catalog did not load: " + err); })
    .then(() => {
      if (document.readyState === "loading") {
        return new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve));
      }
      return undefined;
    })
    .then(() => {
      // The SDK's sentences for error codes, in this language (English where one is missing).
      if (window.LiveClient && window.LiveClient.useMessages) {
        const messages = {};
        for (const key of Object.keys(catalog)) {
          if (key.startsWith("errors.")) messages[key.slice(7)] = catalog[key];
        }
        window.LiveClient.useMessages(messages);
      }
      apply(document);
    });

  window.LiveI18n = {
    lang: lang, t: t, apply: apply, money: money, dateTime: dateTime, time: time,
    relative: relative, ready: ready,
  };
})();
