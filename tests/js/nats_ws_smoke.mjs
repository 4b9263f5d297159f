// nats.ws (the NATS JavaScript client for WebSocket) under Node, against
// the server at argv[2] (ws://host:port): pub/sub with wildcards, a queue
// group, request/reply, headers, no-responders, drain. Prints "ok" and
// exits 0 when everything checks out; any failure throws. The packages are
// in the folder JS_DEPS names (installed there by the test).
import { createRequire } from "node:module";
const require = createRequire(`${process.env.JS_DEPS}/`);
globalThis.WebSocket = require("ws").WebSocket;
const { connect, StringCodec, headers } = require("nats.ws");

const url = process.argv[2];
const sc = StringCodec();
const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
};

const nc = await connect({ servers: url, name: "nats.ws smoke" });
const nc2 = await connect({ servers: url });

// Wildcard subscription, messages in order.
const sub = nc.subscribe("smoke.>", { max: 100 });
const got = (async () => {
  const seen = [];
  for await (const m of sub) seen.push(`${m.subject}:${sc.decode(m.data)}`);
  return seen;
})();
await nc.flush();
for (let i = 0; i < 100; i++) nc2.publish(`smoke.${i % 3}`, sc.encode(String(i)));
const seen = await got;
check(seen.length === 100, `100 messages, got ${seen.length}`);
check(seen[0] === "smoke.0:0" && seen[99] === "smoke.0:99", `order: ${seen[0]} … ${seen[99]}`);

// A queue group: each message to one member.
let a = 0, b = 0;
const qa = nc.subscribe("work", { queue: "q", callback: () => a++ });
const qb = nc2.subscribe("work", { queue: "q", callback: () => b++ });
await nc.flush(); await nc2.flush();
for (let i = 0; i < 200; i++) nc.publish("work", sc.encode("w"));
await nc.flush(); await nc2.flush();
await new Promise((r) => setTimeout(r, 50));
check(a + b === 200, `queue delivered ${a}+${b}`);
qa.unsubscribe(); qb.unsubscribe();

// Request/reply with headers.
nc2.subscribe("svc.echo", {
  callback: (err, m) => {
    const h = headers();
    h.set("X-Echo", m.headers?.get("X-In") ?? "none");
    m.respond(m.data, { headers: h });
  },
});
await nc2.flush();
const h = headers();
h.set("X-In", "hello");
const r = await nc.request("svc.echo", sc.encode("ping"), { timeout: 2000, headers: h });
check(sc.decode(r.data) === "ping", "reply body");
check(r.headers?.get("X-Echo") === "hello", "reply header");

// No responders.
try {
  await nc.request("nobody.home", sc.encode("x"), { timeout: 2000 });
  check(false, "no responders expected");
} catch (e) {
  check(String(e.code) === "503", `no responders: ${e.code} ${e.message}`);
}

// A large message.
const big = new Uint8Array(512 * 1024).fill(7);
const bigSub = nc2.subscribe("big", { max: 1 });
await nc2.flush();
nc.publish("big", big);
for await (const m of bigSub) check(m.data.length === big.length, "big message");

check(nc.info?.port !== undefined, "INFO received");
await nc.drain();
await nc2.drain();
console.log("ok");
