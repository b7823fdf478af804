/*
 * The replay page (/replay/{session_id}) and a clip's page (/clips/{clip_id}): the archived
 * interaction played over the replay socket (pins, prices, stock, the comments overlay, the
 * ticker) beside the recorded video when the session has one, with pause, speed and seek, and
 * the product on screen to buy (a clip order, credited to the guide whose ?share= code the
 * link carries). Viewers come with ?token= (or their live room sign-in) and ?share=.
 */
(function () {
  "use strict";
  const {$, el, money, toast, act} = LiveUI;
  const t = LiveI18n.t;
  const parts = location.pathname.split("/");
  const isClip = parts[1] === "clips";
  const pathId = decodeURIComponent(parts[2] || "");
  const share = new URLSearchParams(location.search).get("share");
  const state = {
    api: null, token: null, sessionId: null, clip: null, clips: [], products: {}, socket: null,
    from: 0, to: 0, t: 0, at: 0, speed: 1, paused: false, pinned: null, orders: null,
    buying: null, qty: 1, seeking: false, tickerTimer: null,
  };

  async function main() {
    await LiveI18n.ready;
    const {token} = await LiveUI.signIn({page: "watch", roles: ["viewer"],
      defaultName: t("viewer.default_name", {n: Math.floor(Math.random() * 1000)})});
    state.token = token;
    state.api = LiveClient.api({token: token});
    $("#stage").hidden = false;
    if (isClip) {
      state.clip = await act(null, () => state.api.clip(pathId, share));
      if (!state.clip) return;
      state.sessionId = state.clip.session_id;
      state.clips = [state.clip];
    } else {
      state.sessionId = pathId;
    }
    const session = await act(null, () => state.api.session(state.sessionId));
    if (!session) return;
    for (const p of session.products) state.products[p.product_id] = p;
    $("#title").textContent = state.clip ? state.clip.title : session.title;
    $("#subtitle").textContent = state.clip ? t("replay.clip_of", {title: session.title}) : t("replay.replay_of_live");
    document.title = t("replay.document_title", {title: $("#title").textContent});
    if (session.video_url) {
      const video = $("#video");
      video.src = session.video_url;
      video.hidden = false;
    }
    state.orders = new LiveShop.Orders({api: state.api, query: {session_id: state.sessionId},
      title: (o) => (state.products[o.product_id] || {}).title || t("shop.your_order")});
    state.orders.load();
    if (!isClip) loadClips();
    wire();
    open();
  }

  // The clips of the session: a product on screen is bought through its clip.
  async function loadClips() {
    for (let attempt = 0; attempt < 10; attempt++) {
      const clips = await state.api.clips(state.sessionId).catch(() => null);
      if (clips) { state.clips = clips; renderCard(); return; }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  // ---- the replay socket ----

  function open() {
    const params = [["token", state.token], ["speed", String(state.speed)]];
    if (state.clip) params.push(["clip_id", state.clip.clip_id]);
    if (share) params.push(["share", share]);
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const url = scheme + location.host + "/ws/replay/" + encodeURIComponent(state.sessionId) + "?" +
      params.map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
    const socket = new WebSocket(url);
    state.socket = socket;
    const badge = $("#connection");
    socket.onopen = () => { badge.textContent = t("replay.page_title"); badge.dataset.state = "open"; };
    socket.onmessage = (event) => {
      const data = JSON.parse(event.data);
      for (const frame of Array.isArray(data) ? data : [data]) apply(frame);
    };
    socket.onclose = (event) => {
      badge.dataset.state = "closed";
      badge.textContent = t(event.code === 4102 ? "replay.not_ready" : "replay.closed");
      if (event.code === 4102 || event.code === 4101) setTimeout(open, 3000);
    };
  }

  function send(message) {
    if (state.socket && state.socket.readyState === 1) state.socket.send(JSON.stringify(message));
  }

  function apply(frame) {
    if (frame.type === "replay_state") {
      state.from = frame.from_ms;
      state.to = frame.to_ms;
      setClock(frame.t_ms);
      state.speed = frame.speed;
      state.paused = frame.paused;
      state.pinned = frame.pinned_product_id;
      for (const p of frame.products || []) {
        state.products[p.product_id] = Object.assign({}, state.products[p.product_id] || {}, {stock: p.stock});
      }
      $("#seek").min = frame.from_ms;
      $("#seek").max = frame.to_ms;
      $("#overlay").replaceChildren();
      $("#banner").hidden = true;
      syncVideo();
      renderCard();
      renderPlayer();
      return;
    }
    if (typeof frame.t_ms === "number" && frame.type !== "ack") setClock(frame.t_ms);
    if (frame.type === "comment" && !frame.deleted) addComment(frame);
    else if (frame.type === "pin") { state.pinned = frame.product_id; renderCard(); }
    else if (frame.type === "unpin") { state.pinned = null; renderCard(); }
    else if (frame.type === "stock") {
      for (const [id, left] of Object.entries(frame.levels || {})) {
        if (state.products[id]) state.products[id].stock = left;
      }
      renderCard();
    } else if (frame.type === "purchase") {
      const p = state.products[frame.product_id];
      const ticker = $("#ticker");
      ticker.textContent = p ? t("replay.bought", {user: frame.user, title: p.title})
        : t("replay.bought_this", {user: frame.user});
      ticker.hidden = false;
      clearTimeout(state.tickerTimer);
      state.tickerTimer = setTimeout(() => { ticker.hidden = true; }, 3000);
    } else if (frame.type === "replay_end") {
      setClock(frame.t_ms);
      state.paused = true;
      const box = $("#banner");
      box.replaceChildren(t("replay.the_end"), el("button", {type: "button", class: "small primary",
        text: t("replay.watch_again"), onclick: () => { send({type: "seek", t_ms: state.from}); send({type: "resume"}); }}));
      box.hidden = false;
      renderPlayer();
    } else if (frame.type === "ack") {
      state.speed = frame.speed;
      state.paused = frame.paused;
      setClock(frame.t_ms);
      renderPlayer();
    } else if (frame.type === "error" && frame.code !== "invalid_request") {
      toast(LiveClient.describe(frame.code, frame.message), "error");
    }
  }

  // ---- the clock: the socket says where playback is; between frames it runs at speed ----

  function setClock(t) {
    state.t = t;
    state.at = Date.now();
  }

  function position() {
    if (state.paused) return state.t;
    return Math.min(state.to, state.t + (Date.now() - state.at) * state.speed);
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function renderPlayer() {
    const t = position();
    $("#clock").textContent = duration(t - state.from) + " / " + duration(state.to - state.from);
    if (!state.seeking) $("#seek").value = t;
    $("#play").textContent = state.paused ? "▶" : "❚❚";
    $("#play").setAttribute("aria-label", state.paused ? "Play" : "Pause");
    $("#speed").value = String(state.speed);
    const video = $("#video");
    if (!video.hidden) {
      video.playbackRate = state.speed;
      if (state.paused) video.pause(); else video.play().catch(() => {});
    }
  }

  function syncVideo() {
    const video = $("#video");
    if (video.hidden) return;
    const offset = state.clip ? state.clip.video_from_ms - state.clip.from_ms : 0;
    video.currentTime = Math.max(0, (state.t + offset) / 1000);
  }

  setInterval(() => { if (!state.paused) renderPlayer(); }, 250);

  function addComment(c) {
    const list = $("#overlay");
    list.append(el("li", {"data-id": c.id}, [el("b", {text: c.user}), c.text]));
    while (list.children.length > 8) list.firstChild.remove();
  }

  // ---- the product on screen, bought through its clip ----

  function clipFor(productId) {
    if (state.clip) return state.clip.product_id === productId ? state.clip : null;
    return state.clips.find((c) => c.product_id === productId) || null;
  }

  function shownProduct() {
    // A clip always sells its own product, pinned or not at this instant.
    if (state.clip) return state.products[state.clip.product_id] || state.clip.product;
    return state.pinned ? state.products[state.pinned] : null;
  }

  function renderCard() {
    const p = shownProduct();
    const card = $("#card");
    card.hidden = !p;
    if (!p) return;
    const image = $("#card-image");
    image.hidden = !p.image_url;
    if (p.image_url && image.getAttribute("src") !== p.image_url) image.src = p.image_url;
    $("#card-title").textContent = p.title;
    $("#card-price").textContent = money(p.price_cents);
    $("#card-stock").textContent = state.clip ? "" : t("replay.stock_then", {stock: LiveShop.stockWords(p.stock)});
    $("#buy").disabled = !clipFor(p.product_id);
  }

  function openBuy() {
    const p = shownProduct();
    if (!p) return;
    state.buying = p;
    state.qty = 1;
    LiveShop.openSheet("buy-sheet");
    renderBuy();
  }

  function renderBuy() {
    const p = state.buying;
    $("#buy-title").textContent = p.title;
    const image = $("#buy-image");
    image.hidden = !p.image_url;
    if (p.image_url) image.src = p.image_url;
    $("#buy-price").textContent = money(p.price_cents);
    const options = LiveShop.optionWords(p.options);
    $("#buy-stock").textContent = options;
    $("#buy-qty").textContent = state.qty;
    $("#buy-now").textContent = t("shop.buy_now_total", {total: money(p.price_cents * state.qty)});
  }

  async function buy(button) {
    const clip = clipFor(state.buying.product_id);
    if (!clip) return;
    const order = await act(button, () => state.api.clipOrder(state.sessionId, clip.clip_id, state.qty, share));
    if (order) state.orders.show(order);
  }

  function wire() {
    $("#play").onclick = () => send({type: state.paused ? "resume" : "pause"});
    $("#speed").onchange = () => send({type: "speed", speed: Number($("#speed").value)});
    const seek = $("#seek");
    seek.oninput = () => { state.seeking = true; };
    seek.onchange = () => {
      state.seeking = false;
      send({type: "seek", t_ms: Number(seek.value)});
    };
    $("#buy").onclick = openBuy;
    $("#buy-minus").onclick = () => { state.qty = Math.max(1, state.qty - 1); renderBuy(); };
    $("#buy-plus").onclick = () => { state.qty = Math.min(100, state.qty + 1); renderBuy(); };
    $("#buy-now").onclick = (event) => buy(event.currentTarget);
    $("#orders-open").onclick = () => { LiveShop.openSheet("orders"); state.orders.load(); };
  }

  main();
})();
