// A page in headless Chromium that connects to the server at argv[2]
// (ws://host:port) with nats.ws, as a browser application does:
// subscribes, publishes, makes a request answered by a second connection
// of the same page, and reports back. Chromium is driven by puppeteer-core
// (CHROMIUM names the binary); the page and the nats.ws bundle are served
// by a small HTTP server here. Prints "ok" and exits 0 on success.
import { createRequire } from "node:module";
import http from "node:http";
import fs from "node:fs";
const require = createRequire(`${process.env.JS_DEPS}/`);
const puppeteer = require("puppeteer-core");

const wsUrl = process.argv[2];
const bundle = fs.readFileSync(require.resolve("nats.ws").replace(/cjs\/nats\.js$/, "esm/nats.js"));
const page = `<!doctype html><html><body><script type="module">
import { connect, StringCodec } from "/nats.js";
const sc = StringCodec();
try {
  const nc = await connect({ servers: ${JSON.stringify(wsUrl)}, name: "browser" });
  const nc2 = await connect({ servers: ${JSON.stringify(wsUrl)} });
  nc2.subscribe("svc", { callback: (_, m) => m.respond(sc.encode("pong:" + sc.decode(m.data))) });
  await nc2.flush();
  const sub = nc.subscribe("page.*", { max: 50 });
  await nc.flush();
  for (let i = 0; i < 50; i++) nc2.publish("page." + i, sc.encode(String(i)));
  let n = 0, last = "";
  for await (const m of sub) { n++; last = sc.decode(m.data); }
  const r = await nc.request("svc", sc.encode("ping"), { timeout: 3000 });
  const big = new Uint8Array(100000).fill(1);
  const bs = nc.subscribe("big", { max: 1 });
  await nc.flush();
  nc2.publish("big", big);
  let bigLen = 0;
  for await (const m of bs) bigLen = m.data.length;
  await nc.drain(); await nc2.drain();
  window.result = JSON.stringify({ n, last, reply: sc.decode(r.data), bigLen });
} catch (e) {
  window.result = JSON.stringify({ error: String(e) });
}
</script></body></html>`;
const srv = http.createServer((req, res) => {
  if (req.url === "/nats.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" });
    res.end(bundle);
  } else {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(page);
  }
});
await new Promise((r) => srv.listen(0, "127.0.0.1", r));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${srv.address().port}/`);
  await tab.waitForFunction(() => window.result !== undefined, { timeout: 20000 });
  const result = JSON.parse(await tab.evaluate(() => window.result));
  const ok = result.n === 50 && result.last === "49" && result.reply === "pong:ping" && result.bigLen === 100000;
  if (!ok) throw new Error(`page result ${JSON.stringify(result)}`);
  const ua = await browser.userAgent();
  console.log(`ok ${ua}`);
} finally {
  await browser.close();
  srv.close();
}
