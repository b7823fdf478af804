/*
 * ui.js: what the three pages share: signing in, messages to the person at the screen, money,
 * the connection badge. Needs live-client.js and i18n.js first (every sentence is in the
 * catalog: LiveI18n.t). Defines window.LiveUI.
 */
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const t = LiveI18n.t;
  const ROLES = ["viewer", "host", "admin", "guide"];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
    }
    for (const child of [].concat(children || [])) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  const money = LiveI18n.money;

  function cents(text) {
    const value = Number(String(text).trim());
    if (!Number.isFinite(value) || value < 0) return null;
    return Math.round(value * 100);
  }

  // ---- messages: errors in words (LiveError.message already is), kept on screen a moment ----

  function toast(text, kind) {
    let box = $("#toasts");
    if (!box) {
      box = el("div", {id: "toasts", role: "status", "aria-live": "polite"});
      document.body.append(box);
    }
    const item = el("div", {class: "toast " + (kind || "info"), text: text});
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 7000 : 3500);
  }

  function fail(err) {
    toast(err && err.message ? err.message : String(err), "error");
  }

  // Runs an action from a button: disables it meanwhile, reports failure in words.
  async function act(button, action, success) {
    if (button) button.disabled = true;
    try {
      const result = await action();
      if (success) toast(typeof success === "function" ? success(result) : success, "ok");
      return result;
    } catch (err) {
      fail(err);
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ---- tokens ----

  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      return null;
    }
  }

  function usable(token, roles) {
    const claims = token && claimsOf(token);
    if (!claims || !roles.includes(claims.role)) return null;
    if (claims.exp && claims.exp * 1000 < Date.now() + 60000) return null;
    return claims;
  }

  function storageKey(page) {
    return "live.token." + page;
  }

  // The token of this page: ?token= (then removed from the address bar and kept in the
  // browser), else the kept one, else the sign-in card. Resolves {token, claims}.
  function signIn(options) {
    const page = options.page;
    const roles = options.roles;
    const params = new URLSearchParams(location.search);
    const given = params.get("token");
    if (given) {
      params.delete("token");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
      if (usable(given, roles)) localStorage.setItem(storageKey(page), given);
      else toast(t("common.signin_link_invalid"), "error");
    }
    const kept = localStorage.getItem(storageKey(page));
    const claims = usable(kept, roles);
    if (claims) return Promise.resolve({token: kept, claims: claims});
    return new Promise((resolve) => showSignIn(options, resolve));
  }

  function signOut(page) {
    localStorage.removeItem(storageKey(page));
    location.reload();
  }

  function showSignIn(options, resolve) {
    const card = $("#signin");
    card.hidden = false;
    const done = (token) => {
      const claims = usable(token, options.roles);
      if (!claims) {
        toast(t("common.token_wrong_role", {roles: options.roles.map((r) => (ROLES.includes(r) ? t("common.role_" + r) : r)).join(" / ")}), "error");
        return;
      }
      localStorage.setItem(storageKey(options.page), token);
      card.hidden = true;
      resolve({token: token, claims: claims});
    };
    $("#signin-token-form").onsubmit = (event) => {
      event.preventDefault();
      done($("#signin-token").value.trim());
    };
    $("#signin-dev-form").onsubmit = async (event) => {
      event.preventDefault();
      const name = $("#signin-name").value.trim() || options.defaultName;
      const sub = name.toLowerCase().replace(/[^a-z0-9._:@-]+/g, "-").slice(0, 64) || "dev";
      const who = {role: options.roles[0], sub: sub, name: name,
        brand: $("#signin-brand").value.trim() || "demo"};
      if (options.store) who.store = options.store;
      const button = event.submitter;
      button.disabled = true;
      try {
        done((await LiveClient.api({}).devSignIn(who)).token);
      } catch (err) {
        // not_found: the server runs without LIVE_DEV_SIGNIN, which is the normal case.
        toast(err.code === "not_found"
          ? t("common.dev_signin_off")
          : err.message, "error");
      } finally {
        button.disabled = false;
      }
    };
  }

  // ---- the connection, in words ----

  function connectionBadge(room, badge) {
    let countdown = null;
    // Back online or back to the tab: try now rather than at the end of the back-off.
    window.addEventListener("online", () => room.state === "waiting" && room.reconnect());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && room.state === "waiting") room.reconnect();
    });
    room.on("state", (event) => {
      clearInterval(countdown);
      badge.dataset.state = event.state;
      if (event.state === "open") badge.textContent = t("common.connected");
      else if (event.state === "connecting") badge.textContent = t("common.connecting");
      else if (event.state === "waiting") {
        const at = Date.now() + event.delayMs;
        const show = () => {
          const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
          badge.textContent = s ? t("common.reconnecting_in", {s: s}) : t("common.reconnecting");
        };
        show();
        countdown = setInterval(show, 500);
      } else if (event.state === "closed") {
        badge.textContent = event.code === 1000 ? t("common.session_ended") : closedWords(event.code);
      }
    });
  }

  const CLOSED = {4001: "common.closed_signed_out", 4004: "common.closed_no_session",
    4009: "common.closed_removed", 4013: "common.closed_origin", 4029: "common.closed_too_many"};

  function closedWords(code) {
    return t(CLOSED[code] || "common.disconnected");
  }

  function countdown(untilMs) {
    const s = Math.max(0, Math.round((untilMs - Date.now()) / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // A live countdown: every element made by until() counts down to its time, once a second.
  function until(ms) {
    return el("span", {class: "countdown", "data-until": ms, text: countdown(ms)});
  }

  setInterval(() => {
    for (const node of document.querySelectorAll("[data-until]")) {
      node.textContent = countdown(Number(node.dataset.until));
    }
  }, 1000);

  window.LiveUI = {
    $: $, el: el, money: money, cents: cents, toast: toast, fail: fail, act: act,
    signIn: signIn, signOut: signOut, claimsOf: claimsOf, connectionBadge: connectionBadge,
    countdown: countdown, until: until,
  };
})();
