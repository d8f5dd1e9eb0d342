import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { hashToken } from "@vigil/events";
import { freePort, startNatsServer } from "@vigil/events/testing";

// Code passed to page.waitForFunction runs in the page; these names exist there, not in Node.
declare const document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): ArrayLike<unknown> & Iterable<unknown> };
type HTMLElement = { dataset: Record<string, string | undefined> };

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? "/usr/bin/chromium";
// The vigil command, run as a process (the gateway does not import it): it starts the decider, the
// supervisor and this gateway exactly as a user's `vigil up` does.
const VIGIL_MAIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../packages/vigil/dist/main.js");
const TOKEN = "console-e2e-operator-token-0123456789";

async function vigilUp(configFile: string, natsUrl: string) {
  const child = spawn(process.execPath, [VIGIL_MAIN, "up", "-q", "--config", configFile], { env: { ...process.env, VIGIL_NATS_URL: natsUrl, VIGIL_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`vigil up did not start in 20 s:\n${out}`)), 20_000);
    child.stdout.on("data", () => out.includes("vigil: running") && (clearTimeout(t), res()));
    child.once("exit", (code) => (clearTimeout(t), rej(new Error(`vigil up exited with ${code}:\n${out}`))));
  });
  child.removeAllListeners("exit");
  return {
    output: () => out,
    stop: () => new Promise<number | null>((res) => (child.exitCode !== null ? res(child.exitCode) : (child.once("exit", (c) => res(c)), child.kill("SIGTERM")))),
  };
}

describe("the console page in headless Chromium (vigil up: real nats-server, decider, supervisor, gateway)", () => {
  it("shows the worker running with its CPU and memory; its Logs view shows what it printed and follows a restart's output; restart from the page gives a new pid; a kill -9 becomes an incident with exit → decision → command → outcome; charts have axes, units, times and thresholds; incidents filter by status; dark follows the system", async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is missing: no executable at ${CHROMIUM}. Install Debian's package (apt-get install -y chromium; scripts/setup.sh does) or set VIGIL_CHROMIUM.`);
    assert.ok(existsSync(VIGIL_MAIN), `the vigil command is not built at ${VIGIL_MAIN}: run npx turbo run build`);
    const srv = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "vigil-console-"));
    const port = await freePort();
    const cfg = join(dir, "vigil.yaml");
    // YAML is a superset of JSON.
    writeFileSync(
      cfg,
      JSON.stringify({
        device: "ui-1",
        dataDir: "data",
        gateway: { port, tokens: [{ name: "e2e-operator", role: "operator", sha256: hashToken(TOKEN) }] },
        // It says hello with its pid (exec keeps the pid), so the Logs view shows which run printed a line.
        workers: [{ name: "sensor", command: "sh", args: ["-c", "echo \"sensor says hello (pid $$)\"; exec sleep 600"], restart: { stableMs: 60_000 } }],
        // Samples twice a second, and a thermal directory without zones: a device with no sensor.
        health: { intervalMs: 500, thermalDir: join(dir, "no-thermal") },
      }),
    );
    const vigil = await vigilUp(cfg, srv.url);
    mkdirSync(join(dir, "no-thermal"));
    const profile = mkdtempSync(join(tmpdir(), "vigil-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      // connect-src 'self' must cover the page's same-origin WebSocket (CSP3): a refusal shows up here.
      const cspViolations: string[] = [];
      page.on("console", (m) => /Content Security Policy/i.test(m.text()) && cspViolations.push(m.text()));
      const base = `http://127.0.0.1:${port}`;
      // The gateway may still be connecting to NATS right after `vigil up` says it is running.
      for (let i = 0; i < 50; i++) {
        const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await page.goto(`${base}/#token=${TOKEN}`);
      const row = page.locator('#workers tr[data-worker="sensor"]');
      await row.locator("td.status", { hasText: "running" }).waitFor({ timeout: 15_000 });
      await page.locator("#who", { hasText: "e2e-operator (operator)" }).waitFor();
      assert.equal(new URL(page.url()).hash, "", "the token is taken out of the address bar");
      const pid1 = Number(await row.locator("td.pid").textContent());
      assert.ok(pid1 > 0, `a pid is shown (${pid1})`);

      // Logs: the worker row's button opens its last lines, and the view follows while it is open.
      await row.locator('button[data-logs="sensor"]').click();
      const logLines = page.locator("#logs-section #log-lines .line");
      await logLines.filter({ hasText: `sensor says hello (pid ${pid1})` }).first().waitFor({ timeout: 10_000 });
      assert.match((await page.locator("#logs-status").textContent()) ?? "", /following/);

      await row.locator('button[data-action="restart"]').click();
      await page.waitForFunction((old) => {
        const t = document.querySelector('#workers tr[data-worker="sensor"] td.pid')?.textContent;
        return t && /^\d+$/.test(t) && Number(t) !== old;
      }, pid1, { timeout: 15_000 });
      const pid2 = Number(await row.locator("td.pid").textContent());
      assert.notEqual(pid2, pid1);
      process.kill(pid2, 0); // the new pid is a live process
      // Followed: the new run's hello arrives in the open Logs view without reopening it.
      await logLines.filter({ hasText: `sensor says hello (pid ${pid2})` }).first().waitFor({ timeout: 10_000 });
      await page.click("#logs-close");
      assert.equal(await page.locator("#logs-section").isHidden(), true);
      assert.match((await page.locator("#command-status").textContent()) ?? "", /restart sensor: accepted/);
      await page.locator("#feed tbody tr", { hasText: "by e2e-operator" }).first().waitFor({ timeout: 10_000 });

      process.kill(pid2, "SIGKILL");
      const incidentRow = page.locator("#incidents tr[data-incident]", { hasText: "SIGKILL" });
      await incidentRow.first().waitFor({ timeout: 15_000 });
      await incidentRow.first().click();
      const timeline = page.locator("#incident-detail ol.timeline");
      await page.waitForFunction(() => [...document.querySelectorAll("#incident-detail ol.timeline li")].some((li) => (li as HTMLElement).dataset.stage === "outcome"), undefined, { timeout: 15_000 });
      const stages = await timeline.locator("li").evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.stage));
      const chain = ["exit", "decision", "command", "outcome"];
      const positions = chain.map((s) => stages.indexOf(s));
      assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)), `timeline in causal order: ${stages.join(" → ")}`);
      assert.match((await timeline.locator('li[data-stage="exit"]').textContent()) ?? "", /signal SIGKILL/);
      const pid3 = await page.waitForFunction((old) => {
        const t = document.querySelector('#workers tr[data-worker="sensor"] td.pid')?.textContent;
        return t && /^\d+$/.test(t) && Number(t) !== old ? Number(t) : false;
      }, pid2, { timeout: 15_000 });
      assert.ok(Number(await pid3.jsonValue()) > 0, "healed: a third pid");

      // Replay: the page plays the incident back and says when it is done.
      await page.selectOption("#replay-speed", "0");
      await page.click("#replay");
      await page.locator("#replay-status", { hasText: "replay done" }).waitFor({ timeout: 10_000 });
      // Charts: axes with units and clock times, the configured threshold drawn; no sensor is said as such.
      await page.waitForFunction('document.querySelectorAll("#charts figure[data-metric=cpu] svg text.tick").length >= 4 && !!document.querySelector("#charts figure[data-metric=cpu] svg polyline.series")', undefined, { timeout: 20_000 });
      for (const metric of ["cpu", "mem"]) {
        const fig = page.locator(`#charts figure[data-metric="${metric}"]`);
        assert.equal(await fig.locator("svg .threshold[data-threshold=above]").count(), 1, `${metric}: the threshold line`);
        assert.match((await fig.locator("svg .threshold-label").textContent()) ?? "", /threshold 90 %/);
        assert.equal(await fig.locator("svg text.unit").textContent(), "%");
        const times = await fig.locator("svg text.tick").allTextContents();
        assert.ok(times.some((t) => /^\d{1,2}:\d{2}/.test(t)), `${metric}: time labels on the x axis (${times.join(" ")})`);
      }
      assert.equal(await page.locator('#charts figure[data-metric="temp"] .chart').textContent(), "no thermal sensor");
      // Per-worker CPU and memory from the latest sample.
      await row.locator("td.mem", { hasText: "MiB" }).waitFor({ timeout: 15_000 });
      assert.match((await row.locator("td.cpu").textContent()) ?? "", /^\d+\.\d %$/);
      // Every feed line is a summary, never JSON.
      const whats = await page.locator("#feed tbody tr td:nth-child(5)").allTextContents();
      assert.ok(whats.length > 0 && whats.every((w) => !w.includes("{")), whats.slice(0, 5).join(" | "));
      // Incidents filter by status: the open one is listed under open, not under resolved.
      await page.selectOption("#incident-status", "resolved");
      await page.locator("#incidents td", { hasText: "no resolved incidents" }).waitFor();
      await page.selectOption("#incident-status", "open");
      await incidentRow.first().waitFor();
      await page.selectOption("#incident-status", "all");
      const shots = process.env.VIGIL_SCREENSHOTS;
      if (shots) {
        mkdirSync(shots, { recursive: true });
        await page.locator("#workers-section").screenshot({ path: join(shots, "workers.png") });
        await page.locator("#incidents-section").screenshot({ path: join(shots, "incident-chain.png") });
        await page.locator("#health-section").screenshot({ path: join(shots, "health-charts.png") });
      }
      // Dark follows the system's preference.
      await page.emulateMedia({ colorScheme: "dark" });
      assert.equal(await page.evaluate("getComputedStyle(document.body).backgroundColor"), "rgb(18, 21, 27)");
      if (shots) await page.screenshot({ path: join(shots, "console-dark.png"), fullPage: true });
      await page.emulateMedia({ colorScheme: "light" });
      assert.equal(await page.evaluate("getComputedStyle(document.body).backgroundColor"), "rgb(250, 250, 250)");
      assert.deepEqual(errors, [], "no script errors");
      assert.deepEqual(cspViolations, [], "no CSP violations");
      const csp = (await fetch(base + "/")).headers.get("content-security-policy") ?? "";
      assert.match(csp, /connect-src 'self';/, "the page connected under connect-src 'self' alone");
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
      const stopped = await vigil.stop();
      await srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(stopped, 0, vigil.output());
    }
  });
});
