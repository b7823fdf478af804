// Node's socket.io as a live room: a snapshot emitted on connection, a host's pin emitted to
// the room, the same few host routes as `live serve` for what the join-storm benchmark does.
// Installed by loadtests/setup_peers.sh into loadtests/.peers/node; run with
//   NODE_PATH=loadtests/.peers/node/node_modules node loadtests/peers/join_peer.js PORT
"use strict";
const { Server } = require("socket.io");
const http = require("http");

const products = [0, 1, 2].map((n) => ({
  product_id: "p" + n, title: "Product " + n, price_cents: 9900 + n, stock: 100000,
  limit_per_viewer: 5,
}));
let seq = 0;
let pinned = null;
let ended = false;

function reply(res, body) {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function main() {
  const port = Number(process.argv[2]);
  const io = new Server({ transports: ["websocket"], path: "/socket.io" });
  io.on("connection", (socket) => {
    socket.join("room");
    socket.emit("snapshot", {
      type: "snapshot", seq, epoch: "peer", session_id: "peer", title: "Storm", status: "live",
      pinned_product_id: pinned, products, coupons: [], my_coupons: [], sales: [],
      viewers: io.engine.clientsCount, likes: 0,
    });
  });
  const server = http.createServer((req, res) => {
    if (req.url === "/healthz") return reply(res, { status: "ok" });
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      if (req.method === "POST" && req.url.endsWith("/pin")) {
        seq += 1;
        pinned = JSON.parse(body).product_id;
        io.to("room").emit("pin", { type: "pin", seq, product_id: pinned, ts: Date.now() });
        return reply(res, { id: "peer", pinned_product_id: pinned });
      }
      if (req.method === "POST" && req.url.endsWith("/end")) {
        seq += 1;
        ended = true;
        io.to("room").emit("ended", { type: "ended", seq, ts: Date.now() });
        io.disconnectSockets(true);
        return reply(res, { id: "peer", status: "ended" });
      }
      return reply(res, { id: "peer", status: ended ? "ended" : "live" });
    });
  });
  io.attach(server);
  server.listen(port, "127.0.0.1", 4096);
}

main();
