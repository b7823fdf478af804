// live-client against a real `live serve` (started by tests/sdk/test_node_sdk.py, which
// passes its URL and tokens): join, recover with since, buy, errors. Imports the package as
// installed from its `npm pack` tarball, both as an ES module and through require().
import {test} from "node:test";
import assert from "node:assert/strict";
import {createRequire} from "node:module";
import LiveClient, {connect, api, browserTransport, LiveError} from "live-client";

const require = createRequire(import.meta.url);
const BASE = process.env.LIVE_BASE_URL;
const HOST = process.env.LIVE_HOST_TOKEN;
const VIEWER = process.env.LIVE_VIEWER_TOKEN;
const UNIT_MS = 5000;

function next(room, type, timeoutMs = UNIT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error("no " + type + " frame")); }, timeoutMs);
    const off = room.on(type, (frame) => { clearTimeout(timer); off(); resolve(frame); });
  });
}

function stateOf(room, state, timeoutMs = UNIT_MS) {
  if (room.state === state) return Promise.resolve({state});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error("never " + state)); }, timeoutMs);
    const off = room.on("state", (event) => {
      if (event.state === state) { clearTimeout(timer); off(); resolve(event); }
    });
  });
}

async function liveSession(stock = 3) {
  const host = api({baseUrl: BASE, token: HOST});
  const session = await host.createSession("Node SDK test");
  const product = await host.addProduct(session.id, {
    sku: "SKU-" + Math.random().toString(36).slice(2, 8), title: "Scarf", price_cents: 900, stock,
    limit_per_viewer: 5,
  });
  await host.start(session.id);
  return {host, session: await host.session(session.id), productId: product.product_id};
}

test("the CommonJS build exposes the same API as the ES module", () => {
  const required = require("live-client");
  assert.deepEqual(Object.keys(required).sort(), Object.keys(LiveClient).sort());
  assert.equal(typeof required.connect, "function");
  assert.equal(required.describe("sold_out"), "Sold out.");
});

test("a viewer joins and gets the snapshot, then live frames", async () => {
  const {host, session, productId} = await liveSession();
  const room = connect({wsUrl: session.ws_url, token: VIEWER, transport: browserTransport(WebSocket)});
  try {
    const snapshot = await next(room, "snapshot");
    assert.equal(snapshot.session_id, session.id);
    assert.deepEqual(snapshot.products.map((p) => p.product_id), [productId]);
    assert.equal(room.state, "open");
    const pinned = next(room, "pin");
    await host.pin(session.id, productId);
    const pin = await pinned;
    assert.equal(pin.product_id, productId);
    assert.equal(room.seq, pin.seq);
    const ack = await room.comment("hello from node");
    assert.equal(ack.type, "ack");
    assert.ok(ack.id);
  } finally {
    room.close();
  }
});

test("a dropped viewer recovers what it missed with since, without a new snapshot", async () => {
  const {host, session, productId} = await liveSession();
  let gate = null;
  const urls = [];
  const inner = browserTransport(WebSocket);
  const gated = {
    open(url, handlers) {
      urls.push(url);
      if (!gate) return inner.open(url, handlers);
      let socket = null;
      let closed = false;
      gate.then(() => { if (!closed) socket = inner.open(url, handlers); });
      return {
        send: (text) => socket && socket.send(text),
        close: (code, reason) => { closed = true; if (socket) socket.close(code, reason); },
      };
    },
  };
  const room = connect({wsUrl: session.ws_url, token: VIEWER, transport: gated, baseDelayMs: 1});
  const snapshots = [];
  room.on("snapshot", (s) => snapshots.push(s));
  try {
    const first = await next(room, "snapshot");
    let release;
    gate = new Promise((resolve) => { release = resolve; });
    room.reconnect();
    await stateOf(room, "waiting");
    await host.pin(session.id, productId);
    await host.unpin(session.id);
    const pinned = next(room, "pin");
    const unpinned = next(room, "unpin");
    release();
    const pin = await pinned;
    const unpin = await unpinned;
    assert.equal(pin.seq, first.seq + 1);
    assert.equal(unpin.seq, first.seq + 2);
    assert.equal(snapshots.length, 1, "caught up, not re-snapshotted");
    const last = urls[urls.length - 1];
    assert.match(last, new RegExp("since=" + first.seq + "&epoch="));
  } finally {
    room.close();
  }
});

test("a viewer buys once per idempotency key, and a sell-out is a LiveError", async () => {
  const {session, productId} = await liveSession(1);
  const viewer = api({baseUrl: BASE, token: VIEWER});
  const key = LiveClient.newKey();
  const order = await viewer.order(session.id, productId, 1, undefined, key);
  assert.equal(order.status, "reserved");
  assert.equal(order.amount_cents, 900);
  const again = await viewer.order(session.id, productId, 1, undefined, key);
  assert.equal(again.order_id, order.order_id);
  const refused = await viewer.order(session.id, productId, 1).catch((e) => e);
  assert.ok(refused instanceof LiveError);
  assert.equal(refused.code, "sold_out");
  assert.equal(refused.status, 409);
  assert.equal(refused.message, "Sold out.");
  const mine = await viewer.getOrder(order.order_id);
  assert.equal(mine.order_id, order.order_id);
});

test("refusals on the socket and the API carry catalog codes", async () => {
  const {session} = await liveSession();
  const room = connect({wsUrl: session.ws_url, token: VIEWER, transport: browserTransport(WebSocket)});
  try {
    await next(room, "snapshot");
    const claim = await room.claim("cpn_nope").catch((e) => e);
    assert.ok(claim instanceof LiveError);
    assert.equal(claim.code, "not_found");
    const long = await room.comment("x".repeat(301)).catch((e) => e);
    assert.equal(long.code, "comment_too_long");
  } finally {
    room.close();
  }
  const forged = connect({wsUrl: session.ws_url, token: "not-a-token", transport: browserTransport(WebSocket)});
  const closed = await stateOf(forged, "closed");
  assert.equal(closed.code, 4001);
  const viewer = api({baseUrl: BASE, token: VIEWER});
  const forbidden = await viewer.createSession("nope").catch((e) => e);
  assert.equal(forbidden.code, "forbidden");
  assert.equal(forbidden.status, 403);
  const anonymous = api({baseUrl: BASE});
  const missing = await anonymous.session(session.id).catch((e) => e);
  assert.equal(missing.code, "unauthorized");
});

test("a scheduled session's schedule counts down on the server's clock and takes a reservation", async () => {
  const host = api({baseUrl: BASE, token: HOST});
  const startsAt = Date.now() + 3600 * 1000;
  const session = await host.createSession("Node SDK preview", {starts_at: startsAt});
  assert.equal(session.status, "scheduled");
  const viewer = api({baseUrl: BASE, token: VIEWER});
  const before = await viewer.schedule(session.id);
  assert.equal(before.reserved, false);
  assert.equal(before.reservations, 0);
  const left = LiveClient.remainingMs(before);
  assert.ok(left > 3590 * 1000 && left <= 3600 * 1000, "remaining " + left);
  // A device whose clock is an hour behind the server's still counts down from the server's:
  // one second after the answer arrived, ten minutes less one second are left.
  const server = 1800000000000;
  const behind = {now: server, received_at: server - 3600 * 1000, starts_at: server + 600 * 1000};
  assert.equal(LiveClient.remainingMs(behind, behind.received_at + 1000), 599 * 1000);
  assert.equal(LiveClient.remainingMs(behind, behind.received_at + 700 * 1000), 0);
  const made = await viewer.reserve(session.id);
  assert.equal(made.status, "active");
  const after = await viewer.schedule(session.id);
  assert.deepEqual([after.reserved, after.reservations], [true, 1]);
  await host.start(session.id);
  await assert.rejects(api({baseUrl: BASE, token: VIEWER}).reserve(session.id), (err) =>
    err instanceof LiveError && err.code === "reservations_closed");
});
