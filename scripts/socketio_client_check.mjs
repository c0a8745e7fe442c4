// A real Socket.IO client (the `socket.io-client` package) against examples/socketio_server.rs,
// run by scripts/socketio_client_check.sh. For each transport setting: join `/` with an auth
// payload and `/custom` over the same connection, get the `auth` event back, echo text and
// binary through `message`/`message-back`, and an acknowledged event with a binary argument;
// leave `/custom` and go on on `/`.
// Exits 0 when every check passed, 1 otherwise; bounded by a global timer.
import { io } from "socket.io-client";

const URL = process.env.SOCKETIO_URL || "http://127.0.0.1:3000";
const once = (socket, name) => new Promise((resolve) => socket.once(name, (...args) => resolve(args)));

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

async function run(label, options) {
  console.log(label);
  const main = io(URL, { ...options, auth: { token: "t-1" }, forceNew: true });
  const [auth] = await once(main, "auth");
  check(auth.token === "t-1", "the auth event carries the CONNECT payload");
  check(main.connected && typeof main.id === "string", "connected to / with a socket id");

  main.emit("message", 1, "2", { 3: [true] });
  const back = await once(main, "message-back");
  check(JSON.stringify(back) === '[1,"2",{"3":[true]}]', "text arguments echoed");

  main.emit("message", { file: Buffer.from([1, 2, 3]) }, Buffer.from([4, 5]));
  const [obj, buf] = await once(main, "message-back");
  check(Buffer.from(obj.file).equals(Buffer.from([1, 2, 3])), "nested attachment echoed");
  check(Buffer.from(buf).equals(Buffer.from([4, 5])), "top-level attachment echoed");

  const acked = await main.timeout(2000).emitWithAck("message-with-ack", "a", Buffer.from([9]));
  check(acked === "a", "ack: first argument");

  const custom = main.io.socket("/custom", { auth: {} });
  custom.connect();
  const [customAuth] = await once(custom, "auth");
  check(JSON.stringify(customAuth) === "{}", "/custom joined on the same connection");
  custom.disconnect();

  main.emit("message", "after /custom left");
  const [after] = await once(main, "message-back");
  check(after === "after /custom left", "/ still works after leaving /custom");
  main.disconnect();
}

const guard = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 20000);

try {
  await run("polling, upgraded to WebSocket", {});
  await run("polling only", { transports: ["polling"] });
  await run("WebSocket only", { transports: ["websocket"] });
  clearTimeout(guard);
  console.log("all checks passed");
  process.exit(0);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
