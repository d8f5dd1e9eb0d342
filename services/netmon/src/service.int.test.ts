import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, createLogger, createPublisher, is, parseConfig, startService, type InterfaceInfo } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { startNetmon } from "./service.js";

const log = createLogger("test", "silent");
const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "pipe", "pipe"] }).toString();

describe("netmon (real nats-server, a veth pair into a test network namespace, a local TCP endpoint)", () => {
  it("discovers, reports a burst of address changes once after the debounce, answers cmd.net.discover, and follows the uplink", async () => {
    const id = randomBytes(3).toString("hex");
    const dev = `vn${id}`;
    const ns = `vigil-ns-${id}`;
    ip("netns", "add", ns);
    ip("link", "add", dev, "type", "veth", "peer", "name", `vq${id}`, "netns", ns);
    ip("addr", "add", "198.51.100.1/25", "dev", dev);
    ip("link", "set", dev, "up");
    ip("-n", ns, "link", "set", `vq${id}`, "up");
    ip("-n", ns, "addr", "add", "198.51.100.2/25", "dev", `vq${id}`);
    // The cloud endpoint: a TCP server on loopback only.
    const cloud = createServer((s) => s.end());
    await new Promise<void>((r) => cloud.listen(0, "127.0.0.1", r));
    const port = (cloud.address() as { port: number }).port;
    const srv = await startNatsServer();
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-netmon-"));
    const config = parseConfig(
      { device: "nm", dataDir, nats: { url: srv.url }, netmon: { debounceMs: 600, ignore: ["lo", "docker0", "eth0"], uplink: { host: "127.0.0.1", port, intervalMs: 200, timeoutMs: 500 } } },
      { env: {} },
    );
    const svc = await startService("netmon", config, startNetmon, log);
    const nc = await connectBus({ url: srv.url }, "test");
    const events = await watchEvents(nc);
    const mine = (e: { data: unknown }) => (e.data as { interface: string }).interface === dev;
    try {
      const disc = await events.waitFor("discovery", (e) => is(e, "obs.net.discovery"));
      const seen = (disc.data as { interfaces: InterfaceInfo[] }).interfaces.find((i) => i.name === dev);
      assert.deepEqual(seen?.ipv4, [{ address: "198.51.100.1", prefix: 25, subnet: "198.51.100.0/25" }]);
      assert.ok(!(disc.data as { interfaces: InterfaceInfo[] }).interfaces.some((i) => i.name === "lo"), "lo ignored");
      await events.waitFor("online", (e) => is(e, "obs.net.online"));

      // A burst: flush, an intermediate address, the final one (as a DHCP renewal into a wider net might).
      const t0 = Date.now();
      ip("addr", "flush", "dev", dev);
      ip("addr", "add", "203.0.113.1/24", "dev", dev);
      ip("addr", "flush", "dev", dev);
      ip("addr", "add", "198.51.100.1/24", "dev", dev);
      ip("route", "add", "203.0.113.0/24", "via", "198.51.100.2", "dev", dev);
      const changed = await events.waitFor("net.changed", (e) => is(e, "obs.net.changed") && mine(e));
      assert.ok(Date.now() - t0 >= 600, "reported after the debounce");
      const d = changed.data as { before: InterfaceInfo; after: InterfaceInfo };
      assert.equal(d.before.ipv4[0]?.subnet, "198.51.100.0/25");
      assert.equal(d.after.ipv4[0]?.subnet, "198.51.100.0/24");
      assert.equal(d.after.gateway, "198.51.100.2");
      // Nothing else for this interface: the burst was one report.
      const cmds = await createPublisher(nc, { device: "nm", source: "test", log });
      await cmds.emit("cmd.net.discover", { requestedBy: "test" });
      await events.waitForCount("second discovery", (e) => is(e, "obs.net.discovery"), 2);
      assert.equal(events.events.filter((e) => is(e, "obs.net.changed") && mine(e)).length, 1, "one report for the burst");

      await new Promise<void>((r) => cloud.close(() => r()));
      const off = await events.waitFor("offline", (e) => is(e, "obs.net.offline"));
      assert.match((off.data as { error: string }).error, /ECONNREFUSED/);
    } finally {
      await events.close();
      await svc.stop();
      await nc.close();
      await srv.cleanup();
      cloud.close();
      ip("link", "del", dev);
      ip("netns", "del", ns);
    }
  });
});
