/*
 * live-client.js: the room socket and the HTTP API of the live-commerce server, for browsers
 * and WeChat mini programs. No dependencies; plain ES2017.
 *
 *   const room = LiveClient.connect({wsUrl, token, share, transport: LiveClient.browserTransport()});
 *   room.on("pin", (event) => ...);            // one callback per frame type, batches flattened
 *   room.on("state", ({state}) => ...);        // connecting | open | waiting | closed
 *   await room.comment("666");                 // resolves with the ack, rejects with a LiveError
 *   const order = await room.buy(productId, 1); // the order; the same key across reconnects
 *
 * Delivery (docs/protocol.md, section 6): durable events carry a per-session `seq`; the client
 * keeps the highest `seq` (and the snapshot's `epoch`) it applied and reconnects with
 * `since`/`epoch`, so the server sends exactly what was missed, or a fresh snapshot.
 * Reconnects wait a random time in [0, min(maxDelayMs, baseDelayMs * 2^attempt)] ("full
 * jitter"), so thousands of viewers dropped together do not come back together.
 */
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api; // mini program, Node
  else root.LiveClient = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // Host-facing words for every code of the catalog (common/errors.py).
  const MESSAGES = {
    invalid_json: "The app sent something the server could not read. Reload the page.",
    invalid_request: "Some of the details are missing or not valid.",
    unknown_type: "This page is out of date. Reload it.",
    frame_too_large: "That is too much text at once.",
    unauthorized: "Please sign in.",
    token_expired: "Your sign-in has expired. Please sign in again.",
    token_invalid: "Your sign-in is not valid. Please sign in again.",
    forbidden: "Your account is not allowed to do that.",
    not_found: "That no longer exists (or belongs to another brand).",
    method_not_allowed: "This page is out of date. Reload it.",
    conflict: "That already exists or was changed at the same moment. Check and try again.",
    session_not_live: "The session is not live: start it first.",
    session_ended: "The session has ended.",
    sold_out: "Sold out.",
    limit_exceeded: "That is more than one person may buy of this product.",
    idempotency_key_required: "This page is out of date. Reload it.",
    idempotency_key_reused: "This page is out of date. Reload it.",
    request_in_progress: "Still working on your previous order. Try again in a moment.",
    coupon_sold_out: "All of these coupons have been claimed.",
    coupon_limit_exceeded: "You already claimed this coupon.",
    coupon_expired: "This coupon has expired.",
    coupon_not_claimed: "Claim the coupon before using it.",
    coupon_min_spend: "The order does not reach the coupon's minimum spend.",
    bad_signature: "The payment could not be verified.",
    amount_mismatch: "The payment amount does not match the order.",
    order_expired: "The order expired before it was paid.",
    rate_limited: "Slow down a little: too many messages.",
    comment_too_long: "That comment is too long (300 characters at most).",
    comment_rejected: "That comment contains words this room does not allow.",
    muted: "You have been muted in this room.",
    kicked: "You have been removed from this room.",
    origin_not_allowed: "This website is not allowed to open the room.",
    too_many_connections: "This room is already open in too many windows. Close one.",
    busy: "The live room is very busy right now. Joining again in a moment...",
    archive_pending: "The recording is still being saved. Try again in a minute.",
    archive_deleted: "The recording of this session was deleted.",
    sale_paused: "Sales are paused for a moment. Try again.",
    sale_not_open: "The flash sale is not open right now.",
    in_stock: "It is in stock: buy it now.",
    waitlist_limit_exceeded: "You are already on as many waitlists as allowed in this room.",
    offer_expired: "Sorry, the unit kept for you was released.",
    payment_unavailable: "Payment is not available here: pay in the brand's app.",
    link_revoked: "This link was withdrawn or has expired. Ask your shopping guide for a new one.",
    budget_exhausted: "This guide has no coupons left to send in this session.",
    reservations_closed: "Reservations are closed: the session is live or over.",
    unavailable: "The server is busy or unreachable. Try again in a moment.",
    internal: "Something went wrong on the server. Try again.",
    network: "No connection to the server. Check the network and try again.",
  };

  // The words in use: English by default; useMessages() puts another language's in (the pages
  // feed it the `errors.` keys of their catalog), code by code, English for any it lacks.
  let words = MESSAGES;

  function useMessages(messages) {
    words = Object.assign({}, MESSAGES, messages || {});
  }

  function describe(code, fallback) {
    return words[code] || fallback || "Something went wrong (" + code + ").";
  }

  class LiveError extends Error {
    constructor(code, message, status) {
      super(describe(code, message));
      this.name = "LiveError";
      this.code = code;
      this.status = status || 0;
      this.detail = message || "";
    }
  }

  // ---- transports: one small interface over the browser WebSocket and wx.connectSocket ----
  // open(url, handlers) -> {send(text), close(code, reason)}; handlers: onOpen, onMessage(text),
  // onClose(code, reason), onError(err). A transport never reconnects by itself.

  function browserTransport(WebSocketImpl) {
    const Impl = WebSocketImpl || (typeof WebSocket !== "undefined" ? WebSocket : null);
    return {
      open(url, h) {
        const ws = new Impl(url);
        ws.onopen = () => h.onOpen();
        ws.onmessage = (e) => h.onMessage(typeof e.data === "string" ? e.data : String(e.data));
        ws.onclose = (e) => h.onClose(e.code, e.reason);
        ws.onerror = (e) => h.onError(e);
        return {
          send: (text) => ws.send(text),
          close: (code, reason) => ws.close(code, reason),
        };
      },
    };
  }

  function wxTransport(wxApi) {
    return {
      open(url, h) {
        // SocketTask API: each task has its own onOpen/onMessage/onClose/onError.
        const task = wxApi.connectSocket({url: url, tcpNoDelay: true});
        task.onOpen(() => h.onOpen());
        task.onMessage((res) => h.onMessage(typeof res.data === "string" ? res.data : ""));
        task.onClose((res) => h.onClose(res && res.code, res && res.reason));
        task.onError((err) => h.onError(err));
        return {
          send: (text) => task.send({data: text}),
          close: (code, reason) => task.close({code: code, reason: reason}),
        };
      },
    };
  }

  // ---- the room ----

  const DURABLE_KEEPS_SEQ = new Set([
    "snapshot", "started", "pin", "unpin", "coupon", "ended", "sold_out", "price",
    "sale_open", "sale_close", "comment_deleted", "draw_open", "draw_result", "product",
  ]);

  function retryHintMs(reason) {
    const match = /retry_after_ms=(\d+)/.exec(reason || "");
    return match ? Number(match[1]) : null;
  }

  // Answers after which a buy is sent again with the same key: the server was busy, paused or
  // still writing the first attempt, or the socket dropped before the answer.
  const BUY_RETRIED = new Set(["network", "sale_paused", "unavailable", "request_in_progress"]);

  function backoffDelay(attempt, baseMs, maxMs, random) {
    const cap = Math.min(maxMs, baseMs * Math.pow(2, attempt));
    return Math.floor((random || Math.random)() * cap);
  }

  class Room {
    constructor(options) {
      if (!options || !options.wsUrl) throw new Error("LiveClient.connect needs wsUrl");
      this.options = Object.assign(
        {
          baseDelayMs: 500, maxDelayMs: 15000, pingIntervalMs: 25000, ackTimeoutMs: 10000,
          buyTimeoutMs: 30000, buyRetryMs: 500,
        },
        options,
      );
      this.transport = options.transport || browserTransport();
      this.listeners = {};
      this.pending = {};
      this.nextRef = 1;
      this.seq = null;
      this.epoch = null;
      this.state = "idle";
      this.attempt = 0;
      this.reconnects = 0;
      this.socket = null;
      this.timer = null;
      this.pinger = null;
      this.lastFrameAt = 0;
      this.stopped = false;
      this.opened = [];   // callbacks waiting for the socket to be open
      this.buyKeys = {};  // intent -> idempotency key of a buy not answered for good yet
      this._open();
    }

    /** Listen to a frame type ("pin", "comments", ...), "state", "*" (every frame). */
    on(type, callback) {
      (this.listeners[type] = this.listeners[type] || []).push(callback);
      return () => {
        this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== callback);
      };
    }

    /** Send a client message; resolves with its ack (or pong), rejects with a LiveError. */
    send(message) {
      const ref = "r" + this.nextRef++;
      const text = JSON.stringify(Object.assign({}, message, {ref: ref}));
      return new Promise((resolve, reject) => {
        if (this.state !== "open") {
          reject(new LiveError("network", "not connected"));
          return;
        }
        const timer = setTimeout(() => {
          delete this.pending[ref];
          reject(new LiveError("network", "no answer"));
        }, this.options.ackTimeoutMs);
        this.pending[ref] = {resolve, reject, timer};
        this.socket.send(text);
      });
    }

    comment(text) { return this.send({type: "comment", text: text}); }
    /** "Ask my guide": a question to the viewer's guide only (protocol section 3.23). */
    ask(text) { return this.send({type: "comment", text: text, ask: true}); }
    like(count) { return this.send({type: "like", count: count || 1}); }
    claim(couponId) { return this.send({type: "claim", coupon_id: couponId}); }

    /**
     * Buy `qty` units: resolves with the order (as POST .../orders answers it), rejects with a
     * LiveError carrying the catalog code (sold_out, limit_exceeded, ...). One idempotency key
     * per purchase, kept until a final answer: a socket that drops before the answer is
     * rejoined and the buy sent again with the same key (the server answers the order it
     * already made), for up to buyTimeoutMs. A buy of the same product, qty, coupon and offer
     * after a `network` failure reuses that key too, so a second tap never buys twice.
     */
    buy(productId, qty, options) {
      const opts = options || {};
      const message = {type: "buy", product_id: productId, qty: qty || 1};
      if (opts.couponId) message.coupon_id = opts.couponId;
      if (opts.offerId) message.offer_id = opts.offerId;
      const intent = [productId, message.qty, opts.couponId || "", opts.offerId || ""].join("|");
      // A key made here goes out as new once (`first`): the server may then refuse a sold-out
      // product without asking its stock again; every later send of the key is a retry.
      if (!opts.key && !this.buyKeys[intent]) message.first = true;
      message.key = opts.key || this.buyKeys[intent] || newKey();
      this.buyKeys[intent] = message.key;
      const deadline = Date.now() + this.options.buyTimeoutMs;
      return new Promise((resolve, reject) => {
        const settle = (err, order) => {
          if (!err || err.code !== "network") delete this.buyKeys[intent];
          if (err) reject(err);
          else resolve(order);
        };
        const attempt = () => {
          if (this.stopped) {
            settle(new LiveError("network", "the room is closed"));
          } else if (this.state !== "open") {
            this._whenOpen(attempt, deadline - Date.now(), () =>
              settle(new LiveError("network", "not connected")));
          } else {
            const sent = this.send(message);
            delete message.first;
            sent.then((ack) => settle(null, ack.order), (err) => {
              const left = deadline - Date.now();
              if (!BUY_RETRIED.has(err.code) || left <= 0) settle(err);
              else if (err.code === "network") attempt();
              else setTimeout(attempt, Math.min(this.options.buyRetryMs, left));
            });
          }
        };
        attempt();
      });
    }

    /** Wait for a sold-out product: resolves with the place ({position, ahead, status}). */
    waitlist(productId) { return this.send({type: "waitlist", product_id: productId}); }
    /** Leave its waitlist (declines an offer held). */
    leaveWaitlist(productId) { return this.send({type: "leave_waitlist", product_id: productId}); }

    mute(userId) { return this.send({type: "mute", user_id: userId}); }
    unmute(userId) { return this.send({type: "unmute", user_id: userId}); }
    kick(userId) { return this.send({type: "kick", user_id: userId}); }
    deleteComment(commentId) { return this.send({type: "delete_comment", comment_id: commentId}); }

    /** Stop for good (no reconnect). */
    close() {
      this.stopped = true;
      clearTimeout(this.timer);
      this._stopPinger();
      if (this.socket) this.socket.close(1000, "client closed");
      this._setState("closed", {code: 1000, reason: "client closed"});
      this._expireWaiters();
    }

    _expireWaiters() {
      const waiting = this.opened;
      this.opened = [];
      for (const waiter of waiting) {
        clearTimeout(waiter.timer);
        waiter.expired();
      }
    }

    /** Drop the current socket and reconnect now (the network changed, the app came back). */
    reconnect() {
      if (this.stopped) return;
      if (this.state === "waiting") {
        clearTimeout(this.timer);
        this._open();
      } else if (this.socket) {
        this.socket.close(4999, "client reconnect"); // 4100-4999: reconnect after a back-off
      }
    }

    // Calls `callback` once the socket is open, or `expired` after `withinMs`.
    _whenOpen(callback, withinMs, expired) {
      const waiter = {callback: callback, expired: expired};
      waiter.timer = setTimeout(() => {
        this.opened = this.opened.filter((w) => w !== waiter);
        expired();
      }, Math.max(0, withinMs));
      this.opened.push(waiter);
    }

    // Built by hand: mini programs have no URL class.
    _url() {
      const params = [["token", this.options.token]];
      if (this.options.share) params.push(["share", this.options.share]);
      if (this.seq !== null) {
        params.push(["since", String(this.seq)]);
        if (this.epoch !== null) params.push(["epoch", String(this.epoch)]);
      }
      const query = params.map((p) => p[0] + "=" + encodeURIComponent(p[1])).join("&");
      return this.options.wsUrl + (this.options.wsUrl.indexOf("?") < 0 ? "?" : "&") + query;
    }

    _open() {
      if (this.stopped) return;
      this._setState("connecting", {attempt: this.attempt});
      let settled = false;
      const socket = this.transport.open(this._url(), {
        onOpen: () => {
          this.lastFrameAt = Date.now();
          this._setState("open", {reconnects: this.reconnects});
          this._startPinger();
          const waiting = this.opened;
          this.opened = [];
          for (const waiter of waiting) {
            clearTimeout(waiter.timer);
            waiter.callback();
          }
        },
        onMessage: (text) => this._receive(text),
        onError: () => {},
        onClose: (code, reason) => {
          if (settled) return;
          settled = true;
          this._closed(code || 1006, reason || "");
        },
      });
      this.socket = socket;
    }

    _closed(code, reason) {
      this._stopPinger();
      this.socket = null;
      for (const ref of Object.keys(this.pending)) {
        clearTimeout(this.pending[ref].timer);
        this.pending[ref].reject(new LiveError("network", "connection lost"));
      }
      this.pending = {};
      // 1000: the session ended; 4000-4099: the same credentials will be refused again.
      const final = this.stopped || code === 1000 || (code >= 4000 && code < 4100);
      if (final) {
        this.stopped = true;
        this._setState("closed", {code: code, reason: reason});
        this._expireWaiters();
        return;
      }
      let delay = backoffDelay(
        this.attempt, this.options.baseDelayMs, this.options.maxDelayMs, this.options.random,
      );
      // 4103: the node is busy with a join storm and says when to come back; the hint is
      // spread over one more hint's length so the refused do not return together.
      const hinted = code === 4103 ? retryHintMs(reason) : null;
      if (hinted !== null) delay = hinted + Math.floor((this.options.random || Math.random)() * hinted);
      this.attempt += 1;
      this.reconnects += 1;
      this._setState("waiting", {code: code, reason: reason, delayMs: delay});
      this.timer = setTimeout(() => this._open(), delay);
    }

    _receive(text) {
      this.lastFrameAt = Date.now();
      let data;
      try {
        data = JSON.parse(text);
      } catch (e) {
        return;
      }
      const frames = Array.isArray(data) ? data : [data];
      for (const frame of frames) this._apply(frame);
    }

    _apply(frame) {
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "snapshot") {
        this.epoch = frame.epoch === undefined ? null : frame.epoch;
        this.seq = typeof frame.seq === "number" ? frame.seq : null;
        this.attempt = 0; // a healthy join: the next drop starts the backoff afresh
      } else if (typeof frame.seq === "number" && DURABLE_KEEPS_SEQ.has(frame.type)) {
        if (this.seq !== null && frame.seq <= this.seq) return; // already applied
        this.seq = frame.seq;
        this.attempt = 0;
      }
      if ((frame.type === "ack" || frame.type === "pong" || frame.type === "error") && frame.ref) {
        const waiting = this.pending[frame.ref];
        if (waiting) {
          delete this.pending[frame.ref];
          clearTimeout(waiting.timer);
          if (frame.type === "error") waiting.reject(new LiveError(frame.code, frame.message));
          else waiting.resolve(frame);
        }
      }
      this._emit(frame.type, frame);
      this._emit("*", frame);
    }

    _emit(type, payload) {
      for (const callback of (this.listeners[type] || []).slice()) {
        try {
          callback(payload);
        } catch (e) {
          if (typeof console !== "undefined") console.error(e);
        }
      }
    }

    _setState(state, detail) {
      this.state = state;
      this._emit("state", Object.assign({state: state}, detail || {}));
    }

    // A dead network often closes nothing: without frames for two intervals, reconnect.
    _startPinger() {
      this._stopPinger();
      const every = this.options.pingIntervalMs;
      if (!every) return;
      this.pinger = setInterval(() => {
        if (Date.now() - this.lastFrameAt > 2 * every) {
          this.reconnect();
          return;
        }
        this.send({type: "ping"}).catch(() => {});
      }, every);
    }

    _stopPinger() {
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = null;
    }
  }

  function connect(options) {
    return new Room(options);
  }

  // ---- the shop: every product of the session, as a product bag shows it ----

  /**
   * The session's products kept up to date from the room's frames: each product (a variant
   * is a product of its own, `group_id` gathers a group), its live stock, its price now (a
   * flash sale's within its window) and the sale's units left. `on("change", fn)` after each
   * frame that changed something. Seed it with the session from `api.session(id)`.
   */
  class Shop {
    constructor(room, session) {
      this.products = {};   // product_id -> product (title, price_cents, image_url, options...)
      this.ids = [];        // product ids, in the order they were added
      this.levels = {};     // product_id -> units left; "sale:<sale_id>" -> sale units left
      this.sales = {};      // product_id -> open sale
      this.pinned = null;
      this.listeners = [];
      if (session) this._products(session.products, session.sales, session.pinned_product_id);
      const on = (type, fn) => room.on(type, (frame) => { fn(frame); this._changed(); });
      on("snapshot", (s) => this._products(s.products, s.sales, s.pinned_product_id));
      on("product", (e) => this._add(e.product));
      on("stock", (e) => Object.assign(this.levels, e.levels));
      on("sold_out", (e) => { this.levels[e.product_id] = 0; });
      on("price", (e) => { if (this.products[e.product_id]) this.products[e.product_id].price_cents = e.price_cents; });
      on("pin", (e) => { this.pinned = e.product_id; });
      on("unpin", () => { this.pinned = null; });
      on("sale_open", (sale) => {
        this.sales[sale.product_id] = sale;
        if (this.levels["sale:" + sale.sale_id] === undefined) this.levels["sale:" + sale.sale_id] = sale.stock_cap;
      });
      on("sale_close", (e) => { delete this.sales[e.product_id]; });
    }

    on(type, callback) {
      if (type === "change") this.listeners.push(callback);
      return () => { this.listeners = this.listeners.filter((f) => f !== callback); };
    }

    /** Products grouped as a bag lists them: [{id, products: [...], pinned}], in order. */
    groups() {
      const groups = [];
      const byId = {};
      for (const id of this.ids) {
        const p = this.products[id];
        const key = p.group_id || p.product_id;
        if (!byId[key]) { byId[key] = {id: key, products: []}; groups.push(byId[key]); }
        byId[key].products.push(p);
      }
      for (const g of groups) g.pinned = g.products.some((p) => p.product_id === this.pinned);
      return groups;
    }

    /** The variants of a product's group (the product alone when it has none). */
    variants(productId) {
      const p = this.products[productId];
      if (!p) return [];
      const key = p.group_id || p.product_id;
      return this.ids.map((id) => this.products[id]).filter((v) => (v.group_id || v.product_id) === key);
    }

    stock(productId) {
      const level = this.levels[productId];
      return level === undefined ? (this.products[productId] || {}).stock || 0 : level;
    }

    /** The open sale of a product with its `left` units, or null. */
    sale(productId) {
      const sale = this.sales[productId];
      if (!sale) return null;
      const left = this.levels["sale:" + sale.sale_id];
      return Object.assign({}, sale, {left: left === undefined ? sale.left : left});
    }

    /** {cents, was, sale}: what one unit costs at `nowMs` (a sale's price within its window). */
    price(productId, nowMs) {
      const p = this.products[productId];
      const sale = this.sale(productId);
      const now = nowMs || Date.now();
      if (sale && sale.starts_at <= now && now < sale.ends_at && sale.left > 0) {
        return {cents: sale.sale_price_cents, was: p.price_cents, sale: sale};
      }
      return {cents: p ? p.price_cents : 0, was: null, sale: sale};
    }

    _products(products, sales, pinned) {
      this.pinned = pinned === undefined ? this.pinned : pinned;
      for (const p of products || []) {
        this._add(p);
        this.levels[p.product_id] = p.stock;
      }
      this.sales = {};
      for (const sale of sales || []) {
        this.sales[sale.product_id] = sale;
        if (sale.left !== undefined) this.levels["sale:" + sale.sale_id] = sale.left;
      }
    }

    _add(product) {
      if (!product) return;
      if (!this.products[product.product_id]) this.ids.push(product.product_id);
      this.products[product.product_id] = Object.assign(this.products[product.product_id] || {}, product);
      if (product.stock !== undefined && this.levels[product.product_id] === undefined) {
        this.levels[product.product_id] = product.stock;
      }
    }

    _changed() {
      for (const callback of this.listeners.slice()) {
        try {
          callback(this);
        } catch (e) {
          if (typeof console !== "undefined") console.error(e);
        }
      }
    }
  }

  function shop(room, session) {
    return new Shop(room, session);
  }

  // ---- HTTP ----
  // request(method, url, headers, bodyText) -> Promise<{status, text}>

  function fetchRequest(fetchImpl) {
    const f = fetchImpl || fetch.bind(typeof self !== "undefined" ? self : this);
    return (method, url, headers, body) =>
      f(url, {method: method, headers: headers, body: body}).then((r) =>
        r.text().then((text) => ({status: r.status, text: text})));
  }

  function wxRequest(wxApi) {
    return (method, url, headers, body) => new Promise((resolve, reject) => {
      wxApi.request({
        url: url, method: method, header: headers, data: body, dataType: "text",
        responseType: "text",
        success: (res) => resolve({status: res.statusCode, text: res.data}),
        fail: (err) => reject(err),
      });
    });
  }

  function newKey() {
    return "k-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  class Api {
    constructor(options) {
      this.baseUrl = (options.baseUrl || "").replace(/\/$/, "");
      this.token = options.token || null;
      this.request = options.request || fetchRequest();
    }

    call(method, path, body, headers) {
      const all = Object.assign({}, headers || {});
      if (this.token) all.Authorization = "Bearer " + this.token;
      let text;
      if (body !== undefined) {
        all["Content-Type"] = "application/json";
        text = JSON.stringify(body);
      }
      return this.request(method, this.baseUrl + path, all, text).then(
        (res) => {
          let data = null;
          try {
            data = res.text ? JSON.parse(res.text) : null;
          } catch (e) {
            data = res.text;
          }
          if (res.status >= 400) {
            const err = (data && data.error) || {code: "internal", message: String(res.status)};
            throw new LiveError(err.code, err.message, res.status);
          }
          return data;
        },
        () => { throw new LiveError("network", "the request did not reach the server"); },
      );
    }

    // sessions (host)
    listSessions(status) { return this.call("GET", "/api/sessions" + (status ? "?status=" + status : "")); }
    /** Create a session; `extra` may schedule it ({starts_at: Unix ms, cover_url}). */
    createSession(title, extra) {
      return this.call("POST", "/api/sessions", Object.assign({title: title}, extra || {}));
    }
    session(id) { return this.call("GET", "/api/sessions/" + id); }
    /** Change a session's title, cover_url, video_url or starts_at (a start schedules a draft). */
    editSession(id, fields) { return this.call("PATCH", "/api/sessions/" + id, fields); }
    /** A session's reservations: {total, unattributed, guides: [{guide_id, name, reservations}]}. */
    reservations(id) { return this.call("GET", "/api/sessions/" + id + "/reservations"); }
    addProduct(id, product) { return this.call("POST", "/api/sessions/" + id + "/products", product); }
    /** Upload a product's image (a browser File or Blob: PNG, JPEG or WebP, at most 2 MiB). */
    uploadImage(id, productId, image) {
      const url = this.baseUrl + "/api/sessions/" + id + "/products/" + productId + "/image";
      const headers = {"Content-Type": image.type || "application/octet-stream"};
      if (this.token) headers.Authorization = "Bearer " + this.token;
      return fetch(url, {method: "POST", headers: headers, body: image}).then((r) => r.json().then((data) => {
        if (r.status >= 400) throw new LiveError(data.error.code, data.error.message, r.status);
        return data;
      }));
    }
    /** Upload a session's cover (a browser File or Blob, as `uploadImage`): {session_id, cover_url}. */
    uploadCover(id, image) {
      const url = this.baseUrl + "/api/sessions/" + id + "/cover";
      const headers = {"Content-Type": image.type || "application/octet-stream"};
      if (this.token) headers.Authorization = "Bearer " + this.token;
      return fetch(url, {method: "POST", headers: headers, body: image}).then((r) => r.json().then((data) => {
        if (r.status >= 400) throw new LiveError(data.error.code, data.error.message, r.status);
        return data;
      }));
    }
    start(id) { return this.call("POST", "/api/sessions/" + id + "/start"); }
    end(id) { return this.call("POST", "/api/sessions/" + id + "/end"); }
    pin(id, productId) { return this.call("POST", "/api/sessions/" + id + "/pin", {product_id: productId}); }
    unpin(id) { return this.call("DELETE", "/api/sessions/" + id + "/pin"); }
    dropCoupon(id, coupon) { return this.call("POST", "/api/sessions/" + id + "/coupons", coupon); }
    openSale(id, sale) { return this.call("POST", "/api/sessions/" + id + "/sales", sale); }
    closeSale(id, saleId) { return this.call("POST", "/api/sessions/" + id + "/sales/" + saleId + "/close"); }
    openDraw(id, draw) { return this.call("POST", "/api/sessions/" + id + "/draws", draw); }
    closeDraw(id, drawId) { return this.call("POST", "/api/sessions/" + id + "/draws/" + drawId + "/close"); }
    draws(id) { return this.call("GET", "/api/sessions/" + id + "/draws"); }
    moderate(id, action, userId, name) {
      const body = {action: action, user_id: userId};
      if (name) body.name = name;
      return this.call("POST", "/api/sessions/" + id + "/moderation", body);
    }
    muted(id) { return this.call("GET", "/api/sessions/" + id + "/moderation"); }
    deleteComment(id, commentId) { return this.call("DELETE", "/api/sessions/" + id + "/comments/" + commentId); }
    stats(id) { return this.call("GET", "/api/sessions/" + id + "/stats"); }
    leaderboard(id) { return this.call("GET", "/api/sessions/" + id + "/leaderboard"); }
    clips(id) { return this.call("GET", "/api/sessions/" + id + "/clips"); }
    /** A clip by its id (a shared clip link), with its session's title and its product. */
    clip(clipId, share) {
      return this.call("GET", "/api/clips/" + encodeURIComponent(clipId) + (share ? "?share=" + encodeURIComponent(share) : ""));
    }
    /** Buy a clip's product after the session ended (credited to the guide of `share`). */
    clipOrder(sessionId, clipId, qty, share, idempotencyKey) {
      const body = {qty: qty || 1};
      if (share) body.share = share;
      return this.call("POST", "/api/sessions/" + sessionId + "/clips/" + encodeURIComponent(clipId) + "/orders",
        body, {"Idempotency-Key": idempotencyKey || newKey()});
    }

    // viewer
    /** A scheduled session's countdown page: {title, cover_url, starts_at, products, reservations,
     * reserved, now}; `remainingMs(schedule, receivedAt)` counts down on the server's clock. */
    schedule(id) {
      const asked = Date.now();
      return this.call("GET", "/api/sessions/" + id + "/schedule").then((data) => {
        data.received_at = asked + (Date.now() - asked) / 2;
        return data;
      });
    }
    /** Reserve a scheduled session (预约), through a guide's share code when given. */
    reserve(id, share) {
      return this.call("POST", "/api/sessions/" + id + "/reservations", share ? {share: share} : {});
    }
    cancelReservation(id) { return this.call("DELETE", "/api/sessions/" + id + "/reservations/me"); }
    order(id, productId, qty, couponId, idempotencyKey) {
      const body = {product_id: productId, qty: qty || 1};
      if (couponId) body.coupon_id = couponId;
      return this.call("POST", "/api/sessions/" + id + "/orders", body,
        {"Idempotency-Key": idempotencyKey || newKey()});
    }
    getOrder(orderId) { return this.call("GET", "/api/orders/" + orderId); }
    waitlist(id) { return this.call("GET", "/api/sessions/" + id + "/waitlist"); }
    joinWaitlist(id, productId) {
      return this.call("POST", "/api/sessions/" + id + "/waitlist", {product_id: productId});
    }
    leaveWaitlist(id, productId) { return this.call("DELETE", "/api/sessions/" + id + "/waitlist/" + productId); }
    setStock(id, productId, stock) {
      return this.call("PUT", "/api/sessions/" + id + "/products/" + productId + "/stock", {stock: stock});
    }
    cancelOrder(orderId) { return this.call("POST", "/api/orders/" + orderId + "/cancel"); }
    /** The viewer's own orders, newest first ({session_id?, status?, limit?, cursor?}). */
    viewerOrders(query) { return this.call("GET", "/api/orders/mine" + toQuery(query)); }
    /** Start paying a reserved order: the provider's answer ({pay_url} or {request_payment}). */
    pay(orderId, details) { return this.call("POST", "/api/orders/" + orderId + "/pay", details || {}); }
    /** The development provider's Pay button (servers with LIVE_PAYMENT_PROVIDER=dev). */
    devPay(orderId) { return this.call("POST", "/api/dev/payments/" + orderId); }

    // guide
    share(sessionId, clipId) {
      return this.call("GET", "/api/guides/me/share?session_id=" + encodeURIComponent(sessionId) +
        (clipId ? "&clip_id=" + encodeURIComponent(clipId) : ""));
    }
    sharePngUrl(sessionId, scale) {
      return this.baseUrl + "/api/guides/me/share.png?session_id=" + encodeURIComponent(sessionId) +
        "&scale=" + (scale || 12);
    }
    posterUrl(sessionId, clipId) {
      return this.baseUrl + "/api/guides/me/poster.png?session_id=" + encodeURIComponent(sessionId) +
        (clipId ? "&clip_id=" + encodeURIComponent(clipId) : "");
    }
    revokeShare(shortCode) { return this.call("DELETE", "/api/guides/me/share/" + encodeURIComponent(shortCode)); }
    myOrders(query) { return this.call("GET", "/api/guides/me/orders" + toQuery(query)); }
    mySummary(query) { return this.call("GET", "/api/guides/me/summary" + toQuery(query)); }
    /** The active reservations the guide brought ({session_id?, limit?}). */
    myReservations(query) { return this.call("GET", "/api/guides/me/reservations" + toQuery(query)); }
    /** After the end: {items: [{kind: "no_show"|"no_buy", viewer_id, viewer_name, link, ...}]}. */
    noShows(sessionId) { return this.call("GET", "/api/guides/me/no-shows" + toQuery({session_id: sessionId})); }
    /** The same list as CSV text. */
    noShowsCsv(sessionId) {
      return this.call("GET", "/api/guides/me/no-shows" + toQuery({session_id: sessionId, format: "csv"}));
    }

    // guides at work (protocol section 3.23): questions, budgets, nudges
    questions(id) { return this.call("GET", "/api/sessions/" + id + "/questions"); }
    answer(id, questionId, text) {
      return this.call("POST", "/api/sessions/" + id + "/questions/" + encodeURIComponent(questionId) + "/answer", {text: text});
    }
    budgets(id) { return this.call("GET", "/api/sessions/" + id + "/budgets"); }
    setBudget(id, guideId, count, valueCapCents) {
      return this.call("PUT", "/api/sessions/" + id + "/guides/" + encodeURIComponent(guideId) + "/budget",
        {count: count, value_cap_cents: valueCapCents});
    }
    nudge(id, viewerId, valueCents, minSpendCents) {
      const body = {viewer_id: viewerId, value_cents: valueCents};
      if (minSpendCents) body.min_spend_cents = minSpendCents;
      return this.call("POST", "/api/sessions/" + id + "/nudges", body);
    }

    // development servers only (LIVE_DEV_SIGNIN=1)
    devSignIn(who) { return this.call("POST", "/api/dev/signin", who); }
  }

  function toQuery(query) {
    const parts = [];
    for (const name of Object.keys(query || {})) {
      if (query[name] !== undefined && query[name] !== null && query[name] !== "") {
        parts.push(encodeURIComponent(name) + "=" + encodeURIComponent(query[name]));
      }
    }
    return parts.length ? "?" + parts.join("&") : "";
  }

  function api(options) {
    return new Api(options || {});
  }

  /** Milliseconds until a schedule's start, on the server's clock: `schedule.now` was the
   * server's time at `schedule.received_at` on this device (0 once the start has passed). */
  function remainingMs(schedule, nowMs) {
    const now = nowMs === undefined ? Date.now() : nowMs;
    const skew = schedule.now - (schedule.received_at || now);
    return Math.max(0, (schedule.starts_at || 0) - (now + skew));
  }

  return {
    connect: connect,
    shop: shop,
    api: api,
    browserTransport: browserTransport,
    wxTransport: wxTransport,
    fetchRequest: fetchRequest,
    wxRequest: wxRequest,
    describe: describe,
    useMessages: useMessages,
    backoffDelay: backoffDelay,
    retryHintMs: retryHintMs,
    remainingMs: remainingMs,
    newKey: newKey,
    LiveError: LiveError,
    MESSAGES: MESSAGES,
  };
});
