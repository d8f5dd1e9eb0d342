import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import { connectBus, DECIDER_BUCKET, encodeEvent, hashToken, makeEvent, parseConfig, startService, type AnyVigilEvent, type NatsConnection } from "@vigil/events";
import { startNatsServer, type TestNatsServer } from "@vigil/events/testing";
import { startGateway } from "./mod.js";

const TOKEN = "metrics-viewer-token-0123456789";
const DEVICE = "metrics-1";
const PROMTOOL = process.env.VIGIL_PROMTOOL ?? "promtool";
const DASHBOARD = resolve(dirname(fileURLToPath(import.meta.url)), "../../../deploy/grafana/vigil.json");

/** Every `vigil_…` name in the dashboard's queries. */
function dashboardMetricNames(): string[] {
  const names = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== "object" || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === "expr" || k === "definition") && typeof x === "string") for (const m of x.matchAll(/\bvigil_[a-z0-9_]+/g)) names.add(m[0]);
      else walk(x);
    }
  };
  walk(JSON.parse(readFileSync(DASHBOARD, "utf8")));
  return [...names].sort();
}

describe("gateway /metrics: Prometheus text promtool accepts, the names the Grafana dashboard uses (real nats-server)", () => {
  let srv: TestNatsServer;
  let dir: string;
  let base: string;
  let stop: () => Promise<void>;
  let nc: NatsConnection;

  before(async () => {
    srv = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), "vigil-metrics-"));
    const config = parseConfig(
      { device: DEVICE, dataDir: dir, nats: { url: srv.url }, log: { level: "warn" }, gateway: { port: 0, tokens: [{ name: "prom", role: "viewer", sha256: hashToken(TOKEN) }] }, workers: [{ name: "sensor", command: "sleep", args: ["600"] }] },
      { env: {} },
    );
    let listening!: (url: string) => void;
    const url = new Promise<string>((r) => (listening = r));
    stop = (await startService("gateway", config, (ctx) => startGateway(ctx, { onListening: (info) => listening(info.url) }))).stop;
    base = await url;
    nc = await connectBus({ url: srv.url }, "test");
  });

  after(async () => {
    await stop?.();
    await nc?.close();
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<string> => {
    const r = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  /** Scrapes until every name has a sample (the hub folds events as they arrive; no fixed sleep). */
  const scrapeUntil = async (names: string[], timeoutMs = 10_000): Promise<string> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = await scrape();
      const missing = names.filter((n) => !new RegExp(`^${n}(\\{| )`, "m").test(text));
      if (missing.length === 0) return text;
      if (Date.now() > end) assert.fail(`no sample of ${missing.join(", ")} in /metrics after ${timeoutMs} ms:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it("exposes host, worker, probe, remediation and telemetry figures from the bus; promtool check metrics passes; every dashboard metric exists", async () => {
    const ev = (name: Parameters<typeof makeEvent>[2], data: object) => makeEvent(DEVICE, `vigil/${DEVICE}/test`, name, data as never);
    const put = (e: AnyVigilEvent) => nc.publish(e.subject, encodeEvent(e));
    put(ev("obs.health.sample", { cpuPct: 37.5, load1: 0.8, memPct: 41.2, tempC: 48.5, disks: [{ mount: "/", usedPct: 63 }], workers: [{ worker: "sensor", pid: 4242, cpuPct: 12.5, rssBytes: 31_457_280 }], intervalMs: 5000 }));
    put(ev("obs.probe.recovered", { worker: "sensor", probe: "http", successes: 1, latencyMs: 4.5 }));
    put(ev("obs.probe.failed", { worker: "sensor", probe: "http", failures: 3, failureThreshold: 3, error: "ECONNREFUSED" }));
    put(ev("dec.remediation.decided", { worker: "sensor", policy: "crash-restart", action: "restart", attempt: 1, delayMs: 200, reason: "exited" }));
    put(ev("sys.telemetry.heartbeat", { device: DEVICE, pid: 99, uptimeMs: 1000, hostUptimeS: 10, cpu: { cores: 2, load1: 0.8, percent: 37 }, memory: { totalBytes: 4e9, freeBytes: 2e9, rssBytes: 5e7 }, versions: { vigil: "0.1.0", node: "20" }, backlog: 17, breaker: "open", forwarded: 120, resent: 1, deadLettered: 2, lost: 0 }));
    // The decider's view: what the success ratio comes from.
    const kv = await new Kvm(nc).create(DECIDER_BUCKET, { history: 1 });
    const state = { workers: { sensor: { status: "running", pid: 4242, attempt: 0, restartTimes: [], restarts: 3 } }, incidents: {}, outcomes: { "crash-restart/restart": { attempts: 4, succeeded: 3, failed: 1 } } };
    await kv.put(DEVICE, JSON.stringify({ version: 1, seq: 1, state }));
    await nc.flush();

    const text = await scrapeUntil(["vigil_host_temperature_celsius", "vigil_worker_resident_memory_bytes", "vigil_probe_duration_seconds", "vigil_probe_failures_total", "vigil_remediations_total", "vigil_remediation_success_ratio", "vigil_telemetry_backlog_messages", "vigil_telemetry_breaker_state"]);
    assert.match(text, /^vigil_host_cpu_usage_percent 37\.5$/m);
    assert.match(text, /^vigil_host_filesystem_usage_percent\{mountpoint="\/"\} 63$/m);
    assert.match(text, /^vigil_host_filesystem_size_bytes\{mountpoint="\/"\} \d+$/m, "bytes per mount, read with statfs");
    assert.match(text, /^vigil_host_memory_total_bytes \d+$/m);
    assert.match(text, /^vigil_host_thermal_sensor_present 1$/m);
    assert.match(text, /^vigil_worker_cpu_usage_percent\{worker="sensor"\} 12\.5$/m);
    assert.match(text, /^vigil_worker_resident_memory_bytes\{worker="sensor"\} 31457280$/m);
    assert.match(text, /^vigil_probe_duration_seconds\{worker="sensor",probe="http"\} 0\.0045$/m);
    assert.match(text, /^vigil_remediations_total\{policy="crash-restart",action="restart"\} 1$/m);
    assert.match(text, /^vigil_remediation_success_ratio\{policy="crash-restart",action="restart"\} 0\.75$/m);
    assert.match(text, /^vigil_telemetry_backlog_messages 17$/m);
    assert.match(text, /^vigil_telemetry_breaker_state\{state="open"\} 1$/m);

    const check = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
    if ((check.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      assert.fail(`promtool is missing (${PROMTOOL}): install Debian's package prometheus (apt-get install -y prometheus; scripts/setup.sh --tests does) or set VIGIL_PROMTOOL`);
    }
    assert.equal(check.status, 0, `promtool check metrics refused /metrics:\n${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), "", "no lint findings");

    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const used = dashboardMetricNames();
    assert.ok(used.length >= 20, `the dashboard queries ${used.length} metrics`);
    assert.deepEqual(used.filter((n) => !exposed.has(n)), [], `every metric in ${DASHBOARD} exists in /metrics`);
  });

  it("says the device has no thermal sensor when samples carry no temperature", async () => {
    const e = makeEvent(DEVICE, `vigil/${DEVICE}/test`, "obs.health.sample", { cpuPct: 5, load1: 0.1, memPct: 20, tempC: null, disks: [], workers: [], intervalMs: 5000 });
    nc.publish(e.subject, encodeEvent(e));
    const end = Date.now() + 10_000;
    let text = "";
    while (!/^vigil_host_thermal_sensor_present 0$/m.test(text)) {
      if (Date.now() > end) assert.fail(`vigil_host_thermal_sensor_present never became 0:\n${text}`);
      text = await scrape();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.doesNotMatch(text, /^vigil_host_temperature_celsius /m, "no temperature series without a sensor");
  });
});
