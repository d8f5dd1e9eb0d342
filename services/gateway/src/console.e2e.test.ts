import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
  it("shows the worker running; restart from the page gives a new pid; a kill -9 becomes an incident with exit → decision → command → outcome", async () => {
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
        workers: [{ name: "sensor", command: "sleep", args: ["600"], restart: { stableMs: 60_000 } }],
      }),
    );
    const vigil = await vigilUp(cfg, srv.url);
    const profile = mkdtempSync(join(tmpdir(), "vigil-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
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

      await row.locator('button[data-action="restart"]').click();
      await page.waitForFunction((old) => {
        const t = document.querySelector('#workers tr[data-worker="sensor"] td.pid')?.textContent;
        return t && /^\d+$/.test(t) && Number(t) !== old;
      }, pid1, { timeout: 15_000 });
      const pid2 = Number(await row.locator("td.pid").textContent());
      assert.notEqual(pid2, pid1);
      process.kill(pid2, 0); // the new pid is a live process
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
      // Each chart draws its series or says "no health data" (no thermal sensor on these machines, say).
      const charts = await page.locator("#charts .chart").evaluateAll((cs) => cs.map((c) => ((c as unknown as { querySelector(s: string): unknown }).querySelector("svg polyline") ? "drawn" : (c as unknown as { textContent: string }).textContent)));
      assert.equal(charts.length, 3);
      assert.ok(charts.every((c) => c === "drawn" || c === "no health data"), charts.join(", "));
      assert.deepEqual(errors, [], "no script errors");
      assert.deepEqual(cspViolations, [], "no CSP violations");
      const csp = (await fetch(base + "/")).headers.get("content-security-policy") ?? "";
      assert.match(csp, /connect-src 'self';/, "the page connected under connect-src 'self' alone");
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
      assert.equal(await vigil.stop(), 0, vigil.output());
      await srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
