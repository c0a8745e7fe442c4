// The page examples/echo_server.rs serves at `/` (examples/common/echo_page.html), driven in headless
// Chromium through playwright-core by scripts/demo_page_check.sh: what it shows of the
// connection (state, subprotocol, extensions, compression), each echoed message with its size,
// round trip and content check, the application-level ping, and the close event. One run per
// server; DEMO_DEFLATE=1 when the server negotiates permessage-deflate, 0 when started with
// --no-deflate. Exits 0 when every check passed, 1 otherwise; bounded by a global timer.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const URL = process.env.DEMO_URL || "http://127.0.0.1:9001/";
const DEFLATE = process.env.DEMO_DEFLATE === "1";
const PROTOCOL = process.env.DEMO_PROTOCOL || "";
const WAIT = 20_000;

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

const timer = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 120_000);

// A fresh profile each run; the flags keep Chromium off the (closed) network.
const profile = mkdtempSync(join(process.env.DEMO_TMP || tmpdir(), "chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  timeout: 60_000,
});

const text = (page, id) => page.locator(`#${id}`).textContent();
// The attributes of the newest row of the message log that matches `selector`, once it exists.
async function row(page, selector) {
  const loc = page.locator(`#log tr.msg${selector}`).last();
  await loc.waitFor({ timeout: WAIT });
  return loc.evaluate((tr) => ({
    ...tr.dataset,
    cells: Array.from(tr.cells, (td) => td.textContent),
  }));
}
const waitText = (page, id, pred) =>
  page.waitForFunction(
    ([id, src]) => new Function("t", `return ${src}`)(document.getElementById(id).textContent),
    [id, pred],
    { timeout: WAIT },
  );

async function run() {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(URL, { timeout: WAIT });
  await waitText(page, "state", 't === "open"');
  check(true, "the page shows the connection open");
  check((await text(page, "protocol")) === "(none)", "no subprotocol offered, none shown");
  const ext = await text(page, "extensions");
  const comp = await text(page, "compression");
  if (DEFLATE) {
    check(ext.includes("permessage-deflate"), `extensions shown: ${ext}`);
    check(comp.startsWith("on"), `compression shown on: ${comp}`);
  } else {
    check(ext === "(none)", `no extension shown: ${ext}`);
    check(comp === "off", `compression shown off: ${comp}`);
  }

  // A text message: its echo, size and round trip.
  await page.fill("#text", "hello wsmachine ✓");
  await page.click("#send-text");
  let r = await row(page, '[data-dir="received"][data-kind="text"]');
  check(r.cells[7] === "hello wsmachine ✓", "the text's echo is shown");
  check(r.bytes === "19" && r.cells[4] === "19 B", `its size: ${r.cells[4]}`);
  check(Number(r.rtt) >= 0 && /^\d+\.\d ms$/.test(r.cells[5]), `its round trip: ${r.cells[5]}`);
  check(r.check === "identical", "the echo matches what was sent");
  const sent = await row(page, '[data-dir="sent"][data-kind="text"]');
  check(sent.bytes === "19", "the sent message is logged with its size");

  // A large binary message, and large multi-byte text.
  await page.fill("#size", "1048576");
  await page.click("#send-binary");
  r = await row(page, '[data-dir="received"][data-kind="binary"]');
  check(r.bytes === "1048576" && r.cells[4] === "1 MiB", `1 MiB binary echoed: ${r.cells[4]}`);
  check(r.check === "identical" && Number(r.rtt) >= 0, `byte for byte, in ${r.cells[5]}`);
  await page.fill("#size", "200000");
  await page.click("#send-large-text");
  r = await row(page, '[data-dir="received"][data-kind="text"][data-bytes="200000"]');
  check(r.check === "identical", `200,000 bytes of multi-byte text echoed in ${r.cells[5]}`);

  // The application-level ping.
  await page.click("#ping");
  await waitText(page, "ping-count", 't === "1"');
  const rtt = await text(page, "ping-rtt");
  check(/^\d+\.\d ms$/.test(rtt), `ping round trip shown: ${rtt}`);
  check((await text(page, "counters")).startsWith("4 messages"), "four messages counted sent");

  // Close with a code and reason: the server echoes them.
  await page.fill("#close-code", "4001");
  await page.fill("#close-reason", "demo done");
  await page.click("#close");
  await waitText(page, "state", 't === "closed"');
  const info = await page.locator("#close-info").evaluate((d) => ({ ...d.dataset }));
  check(info.code === "4001" && info.reason === "demo done", "close code and reason shown");
  check(info.wasClean === "true", "the close was clean");
  check((await text(page, "close-info")).includes("4001"), "close event rendered");

  if (PROTOCOL) {
    // Offer the server's subprotocol and reconnect: the page shows the one chosen.
    await page.fill("#protocols", `other, ${PROTOCOL}`);
    await page.click("#reconnect");
    await waitText(page, "state", 't === "open"');
    check((await text(page, "protocol")) === PROTOCOL, `subprotocol ${PROTOCOL} shown`);
    await page.fill("#close-code", "1000");
    await page.click("#close");
    await waitText(page, "state", 't === "closed"');
  }
  if (process.env.DEMO_SCREENSHOT) {
    // For a look at the page: DEMO_SCREENSHOT=/some/dir/page.png.
    await page.screenshot({ path: process.env.DEMO_SCREENSHOT, fullPage: true });
  }
  check(errors.length === 0, `no script errors${errors.length ? ": " + errors.join("; ") : ""}`);
}

let failed = false;
try {
  await run();
} catch (e) {
  console.error(e.message || e);
  failed = true;
} finally {
  await context.close();
  clearTimeout(timer);
}
process.exit(failed ? 1 : 0);
