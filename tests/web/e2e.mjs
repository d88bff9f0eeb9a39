// End-to-end tests of the web UI in Debian's headless Chromium (playwright-core) against a real picd that
// tests/integration/test_web_ui.py started: sign-in and first password change, peers with QR code read back
// by zbarimg, grants, DNS answered by dig, backup and restore, error messages, XSS, users and app passwords
// (secret shown once, user-role pages, the 409 naming what a user owns, purge), peer owners, the cell CA
// (fingerprint, PEM/DER equal to the API's), axe on every page, screenshots at desktop and phone widths,
// and the first-load size and dashboard time to interactive.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing environment variable ${k}`);
  return v;
};
const SRC = env("PIC_SOURCE_DIR");
const URL = env("PIC_URL");
const TOKEN = env("PIC_TOKEN");
const NETNS = env("PIC_NETNS");
const ART = env("PIC_ARTIFACTS");
let password = env("PIC_PASSWORD");
const NEW_PASSWORD = "e2e-password-" + Date.now();
mkdirSync(ART, { recursive: true });

const require = createRequire(join(SRC, "web", "package.json"));
const { chromium } = require("playwright-core");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>";

async function apiCall(method, path, body) {
  const r = await fetch(URL + path, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, json: (() => { try { return JSON.parse(text); } catch { return null; } })() };
}

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.stack || e}`);
    await page.screenshot({ path: join(ART, `failed-${results.length}.png`), fullPage: true }).catch(() => {});
  }
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await desktop.newPage();
const pageErrors = [];
const cspViolations = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

const axeViolations = {};
async function axe(p, label) {
  await p.evaluate(AXE);
  const res = await p.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  const bad = res.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) axeViolations[label] = bad;
  return bad;
}
async function shoot(p, label) {
  await p.screenshot({ path: join(ART, `${label}-desktop.png`), fullPage: true });
}

const metrics = {};
await step("first load: JS+CSS bytes on the wire, sign-in page", async () => {
  let bytes = 0;
  const files = [];
  page.on("response", async (r) => {
    const u = r.url();
    if (/\.(js|css)$/.test(u)) {
      const s = await r.request().sizes();
      bytes += s.responseBodySize;
      files.push([u.replace(URL, ""), s.responseBodySize, r.headers()["content-encoding"] ?? "none"]);
    }
  });
  await page.goto(URL + "/");
  await page.getByRole("heading", { name: "Sign in to your cell" }).waitFor();
  metrics.first_load_js_css_bytes = bytes;
  metrics.first_load_files = files;
  assert.ok(files.every((f) => f[2] === "gzip"), `not gzipped: ${JSON.stringify(files)}`);
  await shoot(page, "signin");
  assert.deepEqual(await axe(page, "signin"), []);
});

await step("a wrong password shows the API's message", async () => {
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "wrong username or password" }).waitFor();
});

await step("first sign-in asks for a new password; a 400 shows next to its field", async () => {
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Choose your own password" }).waitFor();
  await shoot(page, "first-start");
  assert.deepEqual(await axe(page, "first-start"), []);
  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByLabel("New password again").fill("short");
  await page.getByRole("button", { name: "Change password" }).click();
  const err = page.locator(".field", { has: page.getByLabel("New password", { exact: true }) }).getByRole("alert");
  await err.waitFor();
  assert.equal(await err.textContent(), "new_password must be 10 to 256 characters long");
  await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel("New password again").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  password = NEW_PASSWORD;
  const r = await fetch(URL + "/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "admin", password }) });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).must_change_password, false);
});

await step("dashboard: services with state and memory, time to interactive", async () => {
  await page.goto(URL + "/#/dashboard");
  await page.reload();
  await page.locator("tbody tr", { hasText: "dns" }).first().waitFor();
  metrics.dashboard_tti_ms = Math.round(await page.evaluate(() => performance.now()));
  const nav = await page.evaluate(() => JSON.parse(JSON.stringify(performance.getEntriesByType("navigation")[0])));
  metrics.dashboard_dom_content_loaded_ms = Math.round(nav.domContentLoadedEventEnd);
  const row = page.locator("tbody tr", { hasText: "dns" }).first();
  assert.match(await row.textContent(), /running/);
  assert.match(await row.textContent(), /MiB/);
  await page.getByRole("button", { name: "Logs of dns" }).click();
  await page.getByRole("heading", { name: "Recent log of dns" }).waitFor();
  assert.match(await page.locator("pre.log").textContent(), /unbound/);
});

await step("restart a service with one click", async () => {
  const before = (await apiCall("GET", "/api/services")).json.services.find((s) => s.name === "ntp");
  await page.getByRole("button", { name: "Restart ntp" }).click();
  await page.getByText("ntp restarted.").waitFor();
  const after = (await apiCall("GET", "/api/services")).json.services.find((s) => s.name === "ntp");
  assert.notEqual(after.pid, before.pid);
});

await step("create a peer with two grants; its QR code decodes to GET /api/peers/<name>/config", async () => {
  await page.goto(URL + "/#/peers");
  await page.getByRole("heading", { name: "Peers", exact: true }).waitFor();
  await page.getByLabel("Name").fill("phone-e2e");
  await page.getByLabel("Description").fill(XSS);
  await page.getByRole("checkbox", { name: "calendar" }).first().check();
  await page.getByRole("checkbox", { name: "files" }).first().check();
  await page.getByRole("button", { name: "Create peer" }).click();
  await page.getByRole("heading", { name: "Peer phone-e2e created" }).waitFor();
  await page.getByText("wireguard.endpoint is not set").first().waitFor(); // the API's warning
  // This cell's namespace has no global address, so the API cannot make a config yet and says why.
  await page.getByRole("alert").filter({ hasText: "set wireguard.endpoint" }).first().waitFor();
  const peer = (await apiCall("GET", "/api/peers/phone-e2e")).json;
  assert.deepEqual(peer.service_access, ["calendar", "files"]);
  assert.equal(peer.description, XSS);

  // Settings page (generated from the metadata table): set the endpoint, then the QR code appears.
  await page.goto(URL + "/#/settings");
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  await page.getByLabel("cell_name").fill("-bad-");
  await page.getByRole("button", { name: /Save changes/ }).click();
  const nameErr = page.locator(".field", { has: page.getByLabel("cell_name") }).getByRole("alert");
  await nameErr.waitFor();
  const bad = await apiCall("PUT", "/api/config", { cell_name: "-bad-" });
  assert.equal(bad.status, 400);
  assert.equal(await nameErr.textContent(), bad.json.error.message);
  const cellName = (await apiCall("GET", "/api/config")).json.cell_name;
  await page.getByLabel("cell_name").fill(cellName);
  await page.getByLabel("wireguard.endpoint").fill("vpn.example.net");
  await page.getByRole("button", { name: /Save changes/ }).click();
  await page.getByText(/^Saved\./).waitFor();
  assert.equal((await apiCall("GET", "/api/config")).json.wireguard.endpoint, "vpn.example.net");

  await page.goto(URL + "/#/peers");
  await page.locator('li[data-peer="phone-e2e"]').getByRole("button", { name: "Show config" }).click();
  const img = page.getByTestId("peer-qr").first();
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  const png = join(ART, "peer-qr.png");
  await img.screenshot({ path: png });
  const decoded = execFileSync("zbarimg", ["--raw", "-q", "-Sbinary", png]).toString();
  const config = await apiCall("GET", "/api/peers/phone-e2e/config");
  assert.equal(config.status, 200);
  assert.equal(decoded, config.text);
  const link = page.getByRole("link", { name: "Download phone-e2e.conf" }).first();
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  assert.equal(readFileSync(await download.path(), "utf8"), config.text);
});

await step("change a grant and see it in the list", async () => {
  const card = page.locator('li[data-peer="phone-e2e"]');
  await card.getByRole("button", { name: "Edit grants and owner" }).click();
  await card.getByRole("checkbox", { name: "files" }).uncheck();
  await card.getByRole("checkbox", { name: "mail" }).check();
  await card.getByRole("button", { name: "Save changes" }).click();
  await page.locator('li[data-peer="phone-e2e"] [data-testid="grants"]', { hasText: "calendar, mail" }).waitFor();
  assert.deepEqual((await apiCall("GET", "/api/peers/phone-e2e")).json.service_access, ["calendar", "mail"]);
  await page.locator('li[data-peer="phone-e2e"]').getByRole("button", { name: "Disable" }).click();
  await page.locator('li[data-peer="phone-e2e"]').getByText("disabled", { exact: true }).waitFor();
  assert.equal((await apiCall("GET", "/api/peers/phone-e2e")).json.enabled, false);
});

await step("a VPN client's handshake and traffic show up on the peers page (live, by polling)", async () => {
  const card = page.locator('li[data-peer="phone-e2e"]');
  await card.getByRole("button", { name: "Enable" }).click();
  await card.getByText("enabled", { exact: true }).waitFor();
  const conf = (await apiCall("GET", "/api/peers/phone-e2e/config")).text;
  const cns = env("PIC_CLIENT_NS"), wgIf = env("PIC_WG_IF");
  execFileSync("ip", ["-n", NETNS, "addr", "add", "10.95.0.1/24", "dev", env("PIC_WG_CELL_IF")]);
  execFileSync("ip", ["-n", cns, "addr", "add", "10.95.0.2/24", "dev", env("PIC_WG_LINK_IF")]);
  const address = conf.match(/^Address\s*=\s*([0-9.]+)/m)[1];
  const port = (await apiCall("GET", "/api/wireguard/status")).json.listen_port;
  // What wg-quick would do, without Address/DNS (set by hand) and dialing the cell on this test link.
  const wgConf = conf.split("\n").filter((l) => !/^(Address|DNS)\s*=/.test(l))
    .map((l) => (/^Endpoint\s*=/.test(l) ? `Endpoint = 10.95.0.1:${port}` : l)).join("\n");
  const dir = join(ART, "wg-client");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "wg.conf"), wgConf, { mode: 0o600 });
  execFileSync("ip", ["netns", "exec", cns, "wg", "setconf", wgIf, join(dir, "wg.conf")]);
  execFileSync("ip", ["-n", cns, "addr", "add", `${address}/32`, "dev", wgIf]);
  execFileSync("ip", ["-n", cns, "link", "set", wgIf, "up"]);
  execFileSync("ip", ["-n", cns, "route", "replace", "10.0.0.0/24", "dev", wgIf]);
  let pinged = false;
  for (let i = 0; i < 10 && !pinged; i++) {
    try {
      execFileSync("ip", ["netns", "exec", cns, "ping", "-c1", "-W1", "10.0.0.1"], { timeout: 5000 });
      pinged = true;
    } catch { /* the first packets start the handshake */ }
  }
  assert.ok(pinged, "no ping through the tunnel");
  // No reload: the page's own polling brings the handshake and the bytes.
  await card.locator("dd", { hasText: /ago/ }).first().waitFor({ timeout: 20000 });
  await card.locator("dd", { hasText: /^[1-9][0-9.]* (B|KiB) received/ }).waitFor({ timeout: 20000 });
  await card.locator("dd", { hasText: "10.95.0.2:" }).waitFor({ timeout: 20000 });
  await shoot(page, "peers-live");
});

await step("XSS: a peer description is shown as text and runs nothing", async () => {
  await page.locator('li[data-peer="phone-e2e"] .description', { hasText: XSS }).waitFor();
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
});

let dns;
await step("add DNS records in the page; dig against the cell answers them", async () => {
  const cfg = (await apiCall("GET", "/api/config")).json;
  dns = { ip: cfg.service_ips.dns, port: String(cfg.dns.port), zone: `${cfg.cell_name}.${cfg.domain}` };
  await page.goto(URL + "/#/dns");
  await page.getByRole("heading", { name: "DNS records" }).waitFor();
  await page.getByLabel("Name").fill("web-e2e");
  await page.getByLabel("Type").selectOption("A");
  await page.getByLabel("Value").fill("10.0.0.77");
  await page.getByRole("button", { name: "Add record" }).click();
  await page.getByRole("rowheader", { name: `web-e2e.${dns.zone}.` }).waitFor();
  const dig = (name, type) => execFileSync("ip", ["netns", "exec", NETNS, "dig", "+time=2", "+tries=2", "+short", "-p", dns.port, `@${dns.ip}`, name, type]).toString().trim();
  assert.equal(dig(`web-e2e.${dns.zone}`, "A"), "10.0.0.77");
  await page.getByLabel("Name").fill("xss-e2e");
  await page.getByLabel("Type").selectOption("TXT");
  await page.getByLabel("Value").fill(XSS);
  await page.getByRole("button", { name: "Add record" }).click();
  await page.getByRole("rowheader", { name: `xss-e2e.${dns.zone}.` }).waitFor();
  assert.equal(dig(`xss-e2e.${dns.zone}`, "TXT"), JSON.stringify(XSS));
});

await step("XSS: a DNS TXT value is shown as text and runs nothing", async () => {
  await page.locator("td.value", { hasText: XSS }).waitFor();
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
});

await step("a 400 is shown next to the field it names", async () => {
  await page.getByLabel("Name").fill("bad-e2e");
  await page.getByLabel("Type").selectOption("A");
  await page.getByLabel("Value").fill("not-an-address");
  await page.getByRole("button", { name: "Add record" }).click();
  const err = page.locator(".field", { has: page.getByLabel("Value") }).getByRole("alert");
  await err.waitFor();
  const api = await apiCall("POST", "/api/dns/records", { name: "bad-e2e", type: "A", value: "not-an-address", ttl: 300 });
  assert.equal(api.status, 400);
  assert.equal(api.json.error.field, "value");
  assert.equal(await err.textContent(), api.json.error.message);
});

await step('XSS: "><script> in an audited request path is shown as text', async () => {
  const evil = '"><img src=x onerror=window.__xss=3>';
  assert.equal((await apiCall("DELETE", "/api/peers/" + encodeURIComponent(evil))).status >= 400, true);
  await page.goto(URL + "/#/audit");
  await page.getByRole("heading", { name: "Audit log" }).waitFor();
  await page.locator("td", { hasText: evil }).first().waitFor();
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await page.getByLabel("Failures only").check();
  assert.ok((await page.locator("tbody tr").count()) >= 1);
});

await step("backups: create, then restore (everything after it is undone, sessions end)", async () => {
  await page.goto(URL + "/#/backups");
  await page.getByRole("heading", { name: "Backups" }).waitFor();
  await page.getByRole("button", { name: "Create a backup" }).click();
  await page.getByText(/^Backup pic-.* created\.$/).waitFor({ timeout: 120000 });
  const id = (await page.getByText(/^Backup pic-.* created\.$/).textContent()).match(/Backup (\S+) created/)[1];
  // The download link gives the archive the API keeps (same bytes, fetched with the page's own session).
  const href = await page.locator(`li[data-backup="${id}"]`).getByRole("link", { name: "Download" }).getAttribute("href");
  assert.equal(href, `/api/config/backups/${id}/download`);
  const viaPage = await page.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, type: r.headers.get("content-type"), bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
  }, href);
  assert.equal(viaPage.status, 200);
  assert.equal(viaPage.type, "application/gzip");
  const direct = await fetch(URL + href, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(viaPage.bytes, Array.from(new Uint8Array(await direct.arrayBuffer())));
  const after = await apiCall("POST", "/api/peers", { name: "after-backup" });
  assert.equal(after.status, 201);
  const item = page.locator(`li[data-backup="${id}"]`);
  await item.getByRole("button", { name: "Restore" }).click();
  await item.getByRole("button", { name: `Restore ${id}` }).click();
  await page.getByRole("heading", { name: "Sign in to your cell" }).waitFor({ timeout: 180000 });
  await page.getByText(`Restored ${id}.`).waitFor();
  assert.equal((await apiCall("GET", "/api/peers/after-backup")).status, 404);
  assert.equal((await apiCall("GET", "/api/peers/phone-e2e")).status, 200);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in again, on the page the session ended on.
  await page.getByRole("heading", { name: "Backups" }).waitFor();
  await page.locator(`li[data-backup="${id}"]`).waitFor();
});

// Every page the navigation offers, so a page added to App.tsx's PAGES is covered without touching this file.
let PAGES = [];
await step("axe on every page: no serious or critical violation; desktop screenshots", async () => {
  await page.goto(URL + "/#/dashboard");
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  PAGES = await page.locator("nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href").replace(/^#\//, "")));
  assert.ok(PAGES.length >= 11, `navigation lists ${PAGES}`);
  for (const p of PAGES) {
    await page.goto(`${URL}/#/${p}`);
    await page.locator("h1").first().waitFor();
    await page.waitForTimeout(300);
    if (p === "network") {
      await page.getByRole("button", { name: "Run the test" }).click();
      await page.getByRole("table").waitFor();
    }
    await shoot(page, p);
    await axe(page, p);
  }
  assert.deepEqual(axeViolations, {});
});

await step("phone width: every page fits 390 px and has the menu", async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const pp = await phone.newPage();
  await pp.goto(URL + "/");
  await pp.getByLabel("Password").fill(password);
  await pp.getByRole("button", { name: "Sign in" }).click();
  await pp.getByRole("heading", { name: "Dashboard" }).waitFor();
  for (const p of PAGES) {
    await pp.goto(`${URL}/#/${p}`);
    await pp.locator("h1").first().waitFor();
    await pp.waitForTimeout(300);
    await pp.screenshot({ path: join(ART, `${p}-phone.png`), fullPage: true });
    const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${p} is ${overflow}px wider than the phone`);
  }
  await pp.getByRole("button", { name: "Menu" }).click();
  await pp.getByRole("link", { name: "Peers" }).click();
  await pp.getByRole("heading", { name: "Peers", exact: true }).waitFor();
  await phone.close();
});

await step("keyboard: Tab reaches the navigation and Enter opens a page", async () => {
  await page.goto(URL + "/#/dashboard");
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  // The page's heading has the focus; the navigation comes before it in tab order.
  for (let i = 0; i < 15; i++) {
    await page.keyboard.press("Shift+Tab");
    if ((await page.evaluate(() => document.activeElement?.textContent)) === "DNS") break;
  }
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "DNS records" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "page-title");
});

await step("delete a peer only after confirming", async () => {
  await page.goto(URL + "/#/peers");
  const card = page.locator('li[data-peer="phone-e2e"]');
  await card.getByRole("button", { name: "Delete" }).click();
  assert.equal((await apiCall("GET", "/api/peers/phone-e2e")).status, 200);
  await card.getByRole("button", { name: "Delete phone-e2e" }).click();
  await card.waitFor({ state: "detached" });
  assert.equal((await apiCall("GET", "/api/peers/phone-e2e")).status, 404);
});

await step("settings: a restart-needing change waits as pending until Apply", async () => {
  await page.goto(URL + "/#/settings");
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  const before = (await apiCall("GET", "/api/services")).json.services.find((s) => s.name === "wireguard");
  await page.getByLabel("wireguard.port").fill("51821");
  await page.getByRole("button", { name: /Save changes/ }).click();
  await page.getByText(/Waiting for Apply: wireguard\.port/).waitFor();
  await page.getByRole("heading", { name: "Pending changes" }).waitFor();
  await page.getByRole("button", { name: "Apply now" }).click();
  await page.getByText(/^Applied wireguard\.port/).waitFor({ timeout: 60000 });
  await page.getByRole("heading", { name: "Pending changes" }).waitFor({ state: "detached" });
  assert.equal((await apiCall("GET", "/api/wireguard/status")).json.listen_port, 51821);
  // A restart is asynchronous (TERM, reap, start): the new process may come a moment after the 200.
  let after;
  for (let i = 0; i < 80; i++) {
    after = (await apiCall("GET", "/api/services")).json.services.find((s) => s.name === "wireguard");
    if (after.state === "running" && after.pid !== before.pid) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.notEqual(after.pid, before.pid);
  assert.equal(after.state, "running");
});

await step("DHCP: errors named at their field; a reservation is added and removed; a client's lease shows up", async () => {
  await page.goto(URL + "/#/dhcp");
  await page.getByRole("heading", { name: "DHCP" }).waitFor();
  // Before DHCP is configured the cell refuses reservations and says what to set.
  await page.getByLabel("MAC address").fill("52:54:00:aa:bb:cc");
  await page.getByLabel("IP address").fill("192.168.214.50");
  await page.getByLabel("Host name").fill("printer");
  await page.getByRole("button", { name: "Add reservation" }).click();
  const refused = await apiCall("POST", "/api/dhcp/reservations", { mac: "52:54:00:aa:bb:cc", ip: "192.168.214.50", hostname: "printer" });
  assert.ok(refused.status >= 400, refused.text);
  await page.getByRole("alert").filter({ hasText: refused.json.error.message }).first().waitFor();

  execFileSync("ip", ["-n", NETNS, "addr", "add", "192.168.214.1/24", "dev", env("PIC_DHCP_IF")]);
  const on = await apiCall("PUT", "/api/config", { dhcp: { enabled: true, interface: env("PIC_DHCP_IF"), range_start: "192.168.214.100", range_end: "192.168.214.150" } });
  assert.equal(on.status, 200, on.text);
  await page.getByLabel("MAC address").fill("zz:zz");
  await page.getByRole("button", { name: "Add reservation" }).click();
  const macErr = page.locator(".field", { has: page.getByLabel("MAC address") }).getByRole("alert");
  await macErr.waitFor();
  const bad = await apiCall("POST", "/api/dhcp/reservations", { mac: "zz:zz", ip: "192.168.214.50", hostname: "printer" });
  assert.equal(bad.json.error.field, "mac");
  assert.equal(await macErr.textContent(), bad.json.error.message);
  await page.getByLabel("MAC address").fill("52:54:00:aa:bb:cc");
  await page.getByRole("button", { name: "Add reservation" }).click();
  await page.getByText("printer 192.168.214.50 (52:54:00:aa:bb:cc)").waitFor();
  await page.getByRole("button", { name: "Delete" }).first().click();
  await page.getByRole("button", { name: "Remove reservation" }).click();
  await page.getByText("printer 192.168.214.50 (52:54:00:aa:bb:cc)").waitFor({ state: "detached" });
  assert.equal((await apiCall("GET", "/api/dhcp/reservations")).json.reservations.length, 0);

  // A real client takes a lease; the page, polling, shows it without a reload.
  for (let i = 0; i < 40; i++) {
    const s = (await apiCall("GET", "/api/services")).json.services.find((x) => x.name === "dhcp");
    if (s.state === "running") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  execFileSync("ip", ["netns", "exec", env("PIC_CLIENT_NS"), "udhcpc", "-i", env("PIC_CLIENT_IF"), "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true"], { timeout: 30000 });
  const lease = (await apiCall("GET", "/api/dhcp/leases")).json.leases[0];
  assert.ok(lease, "no lease after udhcpc");
  await page.getByRole("cell", { name: lease.ip, exact: true }).waitFor({ timeout: 25000 });
  await shoot(page, "dhcp-lease");
});

await step("API tokens: shown once, works, revoked after confirming", async () => {
  await page.goto(URL + "/#/tokens");
  await page.getByRole("heading", { name: "API tokens" }).waitFor();
  await page.getByLabel("Name").fill("e2e-read");
  await page.getByRole("button", { name: "Create token" }).click();
  const tok = await page.getByTestId("new-token").textContent();
  const r = await fetch(URL + "/api/peers", { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(r.status, 200);
  await page.getByRole("rowheader", { name: "e2e-read" }).waitFor();
  await page.getByRole("row", { name: /e2e-read/ }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("button", { name: "Revoke e2e-read" }).click();
  await page.getByRole("rowheader", { name: "e2e-read" }).waitFor({ state: "detached" });
  assert.equal((await fetch(URL + "/api/peers", { headers: { Authorization: `Bearer ${tok}` } })).status, 401);
});

// ---- users, app passwords, owners, the cell CA (issue 8's APIs) ----
const USER = "anna-e2e";
const USER_PW = "anna-password-1";
const LABEL_XSS = "<img src=x onerror=window.__xss=4>";

// Caddy's question to picd on STATE/run/auth.sock: may this source use this service with these credentials?
function forwardAuth(service, source, user, secret) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      socketPath: join(env("PIC_STATE_DIR"), "run", "auth.sock"), path: "/auth", method: "GET",
      headers: { "X-Pic-Service": service, "X-Forwarded-For": source, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/",
        Authorization: "Basic " + Buffer.from(`${user}:${secret}`).toString("base64") },
    }, (res) => { res.resume(); res.on("end", () => resolve({ status: res.statusCode, user: res.headers["x-pic-user"] })); });
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error("auth.sock did not answer")));
    req.end();
  });
}

await step("users: a name cannot carry markup (400 at the field); a mismatch is caught; a user is created", async () => {
  await page.goto(URL + "/#/users");
  await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
  const form = page.locator("form", { has: page.getByRole("heading", { name: "Add a user" }) });
  await form.getByLabel("Name").fill(XSS);
  await form.getByLabel("Password", { exact: true }).fill(USER_PW);
  await form.getByLabel("Password again").fill(USER_PW);
  await form.getByRole("button", { name: "Create user" }).click();
  const nameErr = form.locator(".field", { has: page.getByLabel("Name") }).getByRole("alert");
  await nameErr.waitFor();
  const bad = await apiCall("POST", "/api/users", { name: XSS, password: USER_PW });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, "name");
  assert.equal(await nameErr.textContent(), bad.json.error.message);
  await form.getByLabel("Name").fill(USER);
  await form.getByLabel("Password again").fill(USER_PW + "x");
  await form.getByRole("button", { name: "Create user" }).click();
  await form.getByText("The two passwords differ.").waitFor();
  assert.equal((await apiCall("GET", `/api/users/${USER}`)).status, 404);
  await form.getByLabel("Role").selectOption("user");
  await form.getByLabel("Password again").fill(USER_PW);
  await form.getByRole("button", { name: "Create user" }).click();
  await page.getByText(`User ${USER} created.`).waitFor();
  await page.locator(`li[data-user="${USER}"]`).waitFor();
  const u = (await apiCall("GET", `/api/users/${USER}`)).json;
  assert.equal(u.role, "user");
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

await step("app password: the secret is shown once in a dialog; the API lists it; auth.sock accepts it until it is revoked on the page", async () => {
  const card = page.locator(`li[data-user="${USER}"]`);
  await card.getByRole("button", { name: `Manage ${USER}` }).click();
  await card.getByLabel("Device label").fill(LABEL_XSS);
  await card.getByRole("button", { name: "Create app password" }).click();
  const dialog = page.getByRole("dialog", { name: `App password for ${LABEL_XSS}` });
  await dialog.waitFor();
  await dialog.getByText("you will not see it again").waitFor();
  const secret = await dialog.getByTestId("app-password-secret").inputValue();
  assert.match(secret, /^[a-z2-7]{5}(-[a-z2-7]{5}){7}$/);
  await dialog.getByRole("button", { name: "Copy" }).click();
  await dialog.getByText(/Copied to the clipboard\.|copy it with Ctrl\+C/).waitFor();
  await shoot(page, "app-password-dialog");
  assert.deepEqual(await axe(page, "app-password-dialog"), []);
  await dialog.getByRole("button", { name: "Done" }).click();
  await dialog.waitFor({ state: "detached" });
  assert.ok(!(await page.content()).includes(secret), "the secret is still in the page after the dialog closed");
  const listed = (await apiCall("GET", `/api/users/${USER}/app-passwords`)).json.app_passwords;
  assert.deepEqual(listed.map((a) => a.label), [LABEL_XSS]);
  assert.ok(!JSON.stringify(listed).includes(secret));
  // The secret read from the dialog is the device's credential: picd's forward_auth accepts it from a peer
  // granted the service.
  const granted = await apiCall("POST", "/api/peers", { name: "authz-e2e", service_access: ["calendar"] });
  assert.equal(granted.status, 201, granted.text);
  assert.deepEqual(await forwardAuth("calendar", granted.json.ip, USER, secret), { status: 200, user: USER });
  assert.equal((await forwardAuth("calendar", granted.json.ip, USER, secret.slice(0, -1) + (secret.endsWith("a") ? "b" : "a"))).status, 401);
  // The label is text: no image, nothing ran.
  const row = card.getByRole("row", { name: new RegExp(LABEL_XSS.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) });
  await row.waitFor();
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await row.getByRole("button", { name: "Revoke" }).click();
  assert.equal((await apiCall("GET", `/api/users/${USER}/app-passwords`)).json.app_passwords.length, 1);
  await row.getByRole("button", { name: "Revoke it" }).click();
  await row.waitFor({ state: "detached" });
  assert.equal((await apiCall("GET", `/api/users/${USER}/app-passwords`)).json.app_passwords.length, 0);
  // Revoked on the page: the device is refused on its next request.
  assert.equal((await forwardAuth("calendar", granted.json.ip, USER, secret)).status, 401);
  assert.equal((await apiCall("DELETE", "/api/peers/authz-e2e")).status, 200);
});

await step("peers: owner chosen on create and edit, shown, filtered; the QR view shows the cell CA's fingerprint", async () => {
  assert.equal((await apiCall("POST", "/api/peers", { name: "nobody-e2e" })).status, 201);
  await page.goto(URL + "/#/peers");
  await page.getByRole("heading", { name: "Peers", exact: true }).waitFor();
  await page.getByLabel("Name").fill("anna-phone");
  await page.getByLabel("Owner", { exact: true }).selectOption(USER);
  await page.getByRole("button", { name: "Create peer" }).click();
  await page.getByRole("heading", { name: "Peer anna-phone created" }).waitFor();
  assert.equal((await apiCall("GET", "/api/peers/anna-phone")).json.owner, USER);
  await page.locator('li[data-peer="anna-phone"] [data-testid="owner"]', { hasText: USER }).waitFor();
  await page.locator('li[data-peer="nobody-e2e"] [data-testid="owner"]', { hasText: "nobody" }).waitFor();
  const other = page.locator('li[data-peer="nobody-e2e"]');
  await other.getByRole("button", { name: "Edit grants and owner" }).click();
  await other.getByLabel("Owner of nobody-e2e").selectOption(USER);
  await other.getByRole("button", { name: "Save changes" }).click();
  await page.locator('li[data-peer="nobody-e2e"] [data-testid="owner"]', { hasText: USER }).waitFor();
  assert.equal((await apiCall("GET", "/api/peers/nobody-e2e")).json.owner, USER);
  await page.getByLabel("Show the peers of").selectOption(USER);
  await page.getByRole("heading", { name: `Peers of ${USER} (2)` }).waitFor();
  const shown = await page.locator("li[data-peer]").evaluateAll((ls) => ls.map((l) => l.dataset.peer).sort());
  const api = (await apiCall("GET", `/api/peers?owner=${USER}`)).json.peers.map((p) => p.name).sort();
  assert.deepEqual(shown, api);
  assert.deepEqual(shown, ["anna-phone", "nobody-e2e"]);
  // The QR view: the fingerprint and URL the config response names, next to the code.
  await page.locator('li[data-peer="anna-phone"]').getByRole("button", { name: "Show config" }).click();
  const fp = page.locator('li[data-peer="anna-phone"]').getByTestId("peer-ca-fingerprint");
  await fp.waitFor();
  const r = await fetch(URL + "/api/peers/anna-phone/config", { headers: { Authorization: `Bearer ${TOKEN}` } });
  const headerFp = r.headers.get("x-pic-ca-fingerprint");
  assert.ok(headerFp, "the config response has no X-Pic-CA-Fingerprint");
  assert.equal((await fp.textContent()).replace(/\s/g, ""), headerFp.replace(/:/g, ""));
  assert.equal(await page.locator('li[data-peer="anna-phone"]').getByTestId("peer-ca-url").textContent(), r.headers.get("x-pic-ca-url"));
  await shoot(page, "peer-qr-ca");
});

await step("a user-role session sees only its account, gets the API's 403 elsewhere, changes its password, makes an app password", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const up = await ctx.newPage();
  up.on("pageerror", (e) => pageErrors.push(String(e)));
  await up.goto(URL + "/");
  await up.getByLabel("Username").fill(USER);
  await up.getByLabel("Password").fill(USER_PW);
  await up.getByRole("button", { name: "Sign in" }).click();
  await up.getByRole("heading", { name: "My account" }).waitFor();
  assert.deepEqual(await up.locator("nav a").allTextContents(), ["My account"]);
  await up.locator("dd", { hasText: /^(anna-phone, nobody-e2e|nobody-e2e, anna-phone)$/ }).waitFor();
  await shoot(up, "account-user");
  assert.deepEqual(await axe(up, "account-user"), []);
  await up.goto(URL + "/#/peers");
  await up.getByRole("heading", { name: "Peers", exact: true }).waitFor();
  // The same request from this browser's session, answered by the API.
  const denied = await up.evaluate(async () => { const r = await fetch("/api/peers"); return { status: r.status, body: await r.json() }; });
  assert.equal(denied.status, 403);
  const msg = denied.body.error.message;
  await up.getByRole("alert").filter({ hasText: msg }).first().waitFor();
  await up.getByText("This page is for admins").waitFor();
  await up.goto(URL + "/#/account");
  await up.getByRole("heading", { name: "My account" }).waitFor();
  // Its own password: a wrong current one is named at its field; the right one works, the old one no more.
  const NEWPW = "anna-password-2";
  await up.getByLabel("Current password").fill("wrong-password");
  await up.getByLabel("New password", { exact: true }).fill(NEWPW);
  await up.getByLabel("New password again").fill(NEWPW);
  await up.getByRole("button", { name: "Change password" }).click();
  const curErr = up.locator(".field", { has: up.getByLabel("Current password") }).getByRole("alert");
  await curErr.waitFor();
  assert.equal(await curErr.textContent(), "current_password is wrong");
  await up.getByLabel("Current password").fill(USER_PW);
  await up.getByRole("button", { name: "Change password" }).click();
  await up.getByText(`Password of ${USER} changed.`, { exact: false }).waitFor();
  const login = (pw) => fetch(URL + "/api/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: USER, password: pw }) });
  assert.equal((await login(USER_PW)).status, 401);
  assert.equal((await login(NEWPW)).status, 200);
  // Its own app password.
  await up.getByLabel("Device label").fill("laptop");
  await up.getByRole("button", { name: "Create app password" }).click();
  await up.getByRole("dialog", { name: "App password for laptop" }).waitFor();
  await up.getByRole("button", { name: "Done" }).click();
  await up.getByRole("rowheader", { name: "laptop" }).waitFor();
  assert.deepEqual((await apiCall("GET", `/api/users/${USER}/app-passwords`)).json.app_passwords.map((a) => a.label), ["laptop"]);
  await ctx.close();
});

await step("delete a user: the 409 names what they own; purge only after its own confirmation", async () => {
  await page.goto(URL + "/#/users");
  const card = page.locator(`li[data-user="${USER}"]`);
  await card.getByRole("button", { name: `Delete ${USER}` }).click();
  await card.getByRole("button", { name: `Yes, delete ${USER}` }).click();
  const owned = card.getByTestId("owned");
  await owned.waitFor();
  const conflict = await apiCall("DELETE", `/api/users/${USER}`);
  assert.equal(conflict.status, 409);
  assert.match(await owned.textContent(), new RegExp(conflict.json.error.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  assert.match(await owned.textContent(), /2 peer\(s\): (anna-phone, nobody-e2e|nobody-e2e, anna-phone)/);
  assert.match(await owned.textContent(), /1 app password\(s\)/);
  await shoot(page, "user-delete-409");
  assert.deepEqual(await axe(page, "user-delete-409"), []);
  await owned.getByRole("button", { name: "Delete with everything they own" }).click();
  assert.equal((await apiCall("GET", `/api/users/${USER}`)).status, 200);
  await owned.getByRole("button", { name: `Delete ${USER} and everything they own` }).click();
  await page.getByText(`User ${USER} deleted with 2 peer(s).`).waitFor();
  await card.waitFor({ state: "detached" });
  assert.equal((await apiCall("GET", `/api/users/${USER}`)).status, 404);
  assert.equal((await apiCall("GET", "/api/peers/anna-phone")).status, 404);
  assert.equal((await apiCall("GET", "/api/peers/nobody-e2e")).status, 404);
});

await step("CA page: the fingerprint of GET /api/ca, constraints, the URL; the PEM and DER downloads equal the API's", async () => {
  const ca = (await apiCall("GET", "/api/ca")).json;
  await page.goto(URL + "/#/ca");
  await page.getByRole("heading", { name: "Certificate authority" }).waitFor();
  const fp = page.getByTestId("ca-fingerprint");
  await fp.waitFor();
  assert.equal((await fp.textContent()).replace(/\s/g, ""), ca.fingerprint_sha256.replace(/:/g, ""));
  assert.equal(await page.getByTestId("ca-dns").textContent(), ca.name_constraints.permitted_dns.join(", "));
  assert.equal(await page.getByTestId("ca-ip").textContent(), ca.name_constraints.permitted_ip.join(", "));
  assert.equal(await page.getByTestId("ca-url").textContent(), ca.url);
  assert.match(await page.getByTestId("ca-expiry").textContent(), /^in [0-9,]+ days/);
  const [pem] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download the root (PEM)" }).click()]);
  assert.equal(readFileSync(await pem.path(), "utf8"), (await apiCall("GET", "/api/ca?format=pem")).text);
  const [der] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: /Download the root \(DER/ }).click()]);
  const apiDer = Buffer.from(await (await fetch(URL + "/api/ca?format=der", { headers: { Authorization: `Bearer ${TOKEN}` } })).arrayBuffer());
  assert.ok(readFileSync(await der.path()).equals(apiDer), "the DER download differs from the API's");
});

await step("no script error and no CSP violation in any page", async () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(cspViolations, []);
});

await browser.close();
writeFileSync(join(ART, "web-metrics.json"), JSON.stringify({ ...metrics, axe: axeViolations }, null, 2));
console.log(`METRIC first_load_js_css_compressed_bytes=${metrics.first_load_js_css_bytes} (target < 204800)`);
console.log(`METRIC dashboard_time_to_interactive_ms=${metrics.dashboard_tti_ms} (services table filled, from navigation start)`);
console.log(`METRIC dashboard_dom_content_loaded_ms=${metrics.dashboard_dom_content_loaded_ms}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
