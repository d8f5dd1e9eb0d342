import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { createLogger, parseConfig } from "@vigil/events";
import { ProbeRunner, type ProbeReport } from "./probe-runner.js";

const log = createLogger("test", "silent");

function waitFor(reports: ProbeReport[], pred: (r: ProbeReport) => boolean, timeoutMs = 5000): Promise<ProbeReport> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      const r = reports.find(pred);
      if (r) return resolve(r);
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`no such report in ${timeoutMs} ms: ${JSON.stringify(reports.map((x) => [x.emit, x.pid]))}`));
      setTimeout(check, 10);
    };
    check();
  });
}

describe("probe scheduling (real HTTP server)", () => {
  it("waits initialDelayMs, reports failed at the threshold, carries the failing state to the next process, which reports recovered; paused workers are not probed", async () => {
    let healthy = false;
    let hits = 0;
    const srv = createServer((_req, res) => {
      hits++;
      res.statusCode = healthy ? 200 : 500;
      res.end();
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const port = (srv.address() as { port: number }).port;
    const config = parseConfig({ workers: [{ name: "api", command: "x", probe: { http: { url: `http://127.0.0.1:${port}/` }, periodMs: 50, timeoutMs: 40, failureThreshold: 2, initialDelayMs: 300 } }, { name: "plain", command: "x" }] }, { env: {} });
    const reports: ProbeReport[] = [];
    const runner = new ProbeRunner(config.workers, { baseDir: "/", log, report: (r) => reports.push(r) });
    try {
      const t0 = Date.now();
      runner.sync({ api: { pid: 100, paused: false, since: t0 }, plain: { pid: 101, paused: false, since: t0 } });
      const failed = await waitFor(reports, (r) => r.emit === "failed");
      assert.ok(Date.now() - t0 >= 300 + 50, "not before initialDelayMs and two periods");
      assert.equal(failed.pid, 100);
      assert.equal(failed.state.failures, 2);
      assert.match(failed.result.error!, /HTTP 500/);

      // The worker is restarted (exit, then a new pid) and the new process is healthy.
      runner.sync({});
      healthy = true;
      runner.sync({ api: { pid: 200, paused: false, since: Date.now() - 1000 } });
      const recovered = await waitFor(reports, (r) => r.emit === "recovered");
      assert.equal(recovered.pid, 200);

      runner.sync({ api: { pid: 200, paused: true, since: 0 } });
      await new Promise((r) => setTimeout(r, 60)); // let an attempt already in flight finish
      const before = hits;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(hits, before, "a paused worker is not probed");
    } finally {
      runner.stop();
      srv.close();
    }
  });
});
