// A real Engine.IO client (the `engine.io-client` package, default transports: long-polling
// first, then the upgrade to WebSocket) against examples/engineio_echo.rs, run by
// scripts/engineio_client_check.sh: text and binary echoed before and after the upgrade, and
// the upgrade seen to happen. Exits 0 when every check passed, 1 otherwise; bounded by a
// global timer.
import { Socket } from "engine.io-client";

const URL = process.env.ENGINEIO_URL || "http://127.0.0.1:3001";

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

const socket = new Socket(URL);
const next = (name) => new Promise((resolve) => socket.once(name, resolve));
const echo = async (data) => {
  const reply = next("message");
  socket.send(data);
  return reply;
};

async function run() {
  await next("open");
  check(socket.transport.name === "polling", "opened over long-polling");
  check((await echo("hello")) === "hello", "text echoed over long-polling");
  const bin = await echo(Uint8Array.from([1, 2, 3]));
  check(Buffer.from(bin).equals(Buffer.from([1, 2, 3])), "binary echoed over long-polling");
  if (socket.transport.name !== "websocket") {
    await next("upgrade");
  }
  check(socket.transport.name === "websocket", "upgraded to WebSocket");
  check((await echo("after upgrade")) === "after upgrade", "text echoed over WebSocket");
  const bin2 = await echo(Uint8Array.from([7, 8, 9, 10]));
  check(Buffer.from(bin2).equals(Buffer.from([7, 8, 9, 10])), "binary echoed over WebSocket");
  socket.close();
}

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 20000);
run()
  .then(() => {
    clearTimeout(timer);
    console.log("all checks passed");
    process.exit(0);
  })
  .catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
