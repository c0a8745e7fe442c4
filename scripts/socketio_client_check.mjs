// A real Socket.IO client (the `socket.io-client` package) against examples/socketio_server.rs,
// run by scripts/socketio_client_check.sh. For each transport setting: join `/` with an auth
// payload and `/custom` over the same connection, get the `auth` event back, echo text and
// binary through `message`/`message-back`, and an acknowledged event with a binary argument;
// leave `/custom` and go on on `/`. Then the chat's events with two clients: both join a
// room (acknowledged), one says text and a file to it and the other gets `said` with the
// sender's id (the ack counts one recipient), binary comes back from `echo-binary`, and a
// server's `question` is acknowledged and comes back as `answer`; both disconnect.
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

// The chat's events in `room`, a room of this run's own: a client of an earlier run may still
// be in its room until the server has its DISCONNECT.
async function chat(label, options, room) {
  console.log(`${label}: chat`);
  const a = io(URL, { ...options, auth: { name: "a" }, forceNew: true });
  const b = io(URL, { ...options, auth: { name: "b" }, forceNew: true });
  await Promise.all([once(a, "auth"), once(b, "auth")]);
  if (!options.transports) {
    for (const s of [a, b]) {
      if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
    }
    check(a.io.engine.transport.name === "websocket", "upgraded to WebSocket");
  }

  check((await a.timeout(2000).emitWithAck("join", room)) === true, "join acknowledged");
  check((await b.timeout(2000).emitWithAck("join", room)) === true, "second client joined");

  const heard = once(b, "said");
  const reached = await a.timeout(2000).emitWithAck("say", room, "hello room");
  check(reached === 1, `say acknowledged with one recipient (got ${reached})`);
  const [to, text, from] = await heard;
  check(to === room && text === "hello room" && from === a.id, "the other client got said from the sender");

  const file = { name: "dot.png", type: "image/png", data: Buffer.from([137, 80, 78, 71]) };
  const heardFile = once(b, "said");
  a.emit("say", room, file);
  const [, got] = await heardFile;
  check(got.name === "dot.png" && Buffer.from(got.data).equals(file.data), "a file said as binary reached the room");

  const bytes = Buffer.from([0, 255, 1, 254]);
  const echoed = once(a, "echo-binary");
  a.emit("echo-binary", bytes);
  const [back] = await echoed;
  check(Buffer.from(back).equals(bytes), "echo-binary: the same bytes back");

  a.once("question", (value, ack) => ack({ to: value }, "yes"));
  const answer = once(a, "answer");
  a.emit("ask", "ready?");
  const answered = await answer;
  check(JSON.stringify(answered) === '[{"to":"ready?"},"yes"]', "question acknowledged, answer carries the ack");

  const gone = once(b, "disconnect");
  b.disconnect();
  const [reason] = await gone;
  check(reason === "io client disconnect" && !b.connected, "disconnected");
  // The client reports its disconnection before the server has it: ask until it has.
  let alone = -1;
  for (let i = 0; i < 40 && alone !== 0; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    alone = await a.timeout(2000).emitWithAck("say", room, "anyone?");
  }
  check(alone === 0, "the room is empty once the other client left");
  a.disconnect();
}

const guard = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 20000);

try {
  const settings = [
    ["polling, upgraded to WebSocket", {}],
    ["polling only", { transports: ["polling"] }],
    ["WebSocket only", { transports: ["websocket"] }],
  ];
  for (const [i, [label, options]] of settings.entries()) {
    await run(label, options);
    await chat(label, options, `room-${i}`);
  }
  clearTimeout(guard);
  console.log("all checks passed");
  process.exit(0);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
