// Node's socket.io with @socket.io/redis-adapter, same tick batching as every other target.
// Installed by loadtests/setup_peers.sh into loadtests/.peers/node; run with
//   NODE_PATH=loadtests/.peers/node/node_modules node loadtests/fanout/sio_server.js PORT REDIS_URL TICK_MS K
"use strict";
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
const http = require("http");

async function main() {
  const [port, redisUrl, tickMs, k] = process.argv.slice(2);
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  const io = new Server({ transports: ["websocket"], adapter: createAdapter(pubClient, subClient) });
  let comments = [];
  let levels = {};
  io.on("connection", (socket) => {
    if (socket.handshake.query.role === "pub") {
      socket.on("pub", (message) => {
        const { kind, ...fields } = message;
        if (kind === "comment") comments.push(fields);
        else if (kind === "stock") Object.assign(levels, fields.levels);
        else io.to("room").emit("pin", { type: "pin", ...fields });
      });
    } else {
      socket.join("room");
    }
  });
  setInterval(() => {
    const batch = [];
    if (comments.length) {
      const items = comments.slice(0, Number(k));
      batch.push({ type: "comments", items, dropped: comments.length - items.length });
    }
    if (Object.keys(levels).length) batch.push({ type: "stock", levels });
    comments = [];
    levels = {};
    if (batch.length) io.to("room").emit("tick", batch);
  }, Number(tickMs));
  const server = http.createServer();
  io.attach(server);
  server.listen(Number(port), "127.0.0.1", 4096);
}

main();
