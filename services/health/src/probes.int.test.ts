import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { once } from "node:events";
import { ProbeSchema } from "@vigil/events";
import { freePort } from "@vigil/events/testing";
import { runProbe } from "./probes.js";

const probe = (p: object) => ProbeSchema.parse({ periodMs: 1000, timeoutMs: 300, ...p });

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const srv: Server = createHttpServer(handler);
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const a = srv.address() as { port: number };
  return {
    url: `http://127.0.0.1:${a.port}`,
    close: () => {
      srv.closeAllConnections();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

describe("probe runner (real HTTP and TCP servers, real programs)", () => {
  it("http: passes on 2xx, fails on a wrong status, a body mismatch, a slow answer and no answer", async () => {
    const s = await httpServer((req, res) => {
      if (req.url === "/ok") res.end("status: ok");
      else if (req.url === "/slow") setTimeout(() => res.end("ok"), 120);
      else if (req.url === "/hang") return; // never answers
      else {
        res.statusCode = 503;
        res.end("down");
      }
    });
    try {
      assert.deepEqual((await runProbe(probe({ http: { url: `${s.url}/ok`, bodyMatch: "status: ok" } }))).ok, true);
      const bad = await runProbe(probe({ http: { url: `${s.url}/x` } }));
      assert.equal(bad.ok, false);
      assert.match(bad.error!, /HTTP 503/);
      assert.match((await runProbe(probe({ http: { url: `${s.url}/ok`, bodyMatch: "^healthy" } }))).error!, /body does not match/);
      assert.match((await runProbe(probe({ http: { url: `${s.url}/slow`, maxLatencyMs: 50 } }))).error!, /above maxLatencyMs 50/);
      const hang = await runProbe(probe({ http: { url: `${s.url}/hang` } }));
      assert.equal(hang.ok, false);
      assert.match(hang.error!, /no answer within 300 ms/);
      assert.ok(hang.latencyMs < 1000);
      assert.equal((await runProbe(probe({ http: { url: `${s.url}/x`, status: [503] } }))).ok, true, "accepted statuses are configurable");
    } finally {
      await s.close();
    }
  });

  it("http: a refused connection fails with the reason", async () => {
    const r = await runProbe(probe({ http: { url: `http://127.0.0.1:${await freePort()}/` } }));
    assert.equal(r.ok, false);
    assert.match(r.error!, /ECONNREFUSED/);
  });

  it("tcp: passes when something listens, fails when nothing does", async () => {
    const srv = createTcpServer((c) => c.end());
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const port = (srv.address() as { port: number }).port;
    try {
      assert.equal((await runProbe(probe({ tcp: { port } }))).ok, true);
    } finally {
      srv.close();
    }
    const r = await runProbe(probe({ tcp: { port: await freePort() } }));
    assert.equal(r.ok, false);
    assert.match(r.error!, /ECONNREFUSED/);
  });

  it("exec: the probe program gets a clean environment, none of the health service's VIGIL_* credentials", async () => {
    process.env.VIGIL_NATS_PASS = "health-bus-password";
    try {
      // Exits 0 only when no VIGIL_ variable reached it and PATH did.
      const r = await runProbe(probe({ exec: { command: "sh", args: ["-c", 'env | grep -q "^VIGIL_" && exit 3; [ -n "$PATH" ]'] } }));
      assert.equal(r.ok, true, r.error);
    } finally {
      delete process.env.VIGIL_NATS_PASS;
    }
  });

  it("exec: exit 0 passes; non-zero, a missing program and a timeout fail", async () => {
    assert.equal((await runProbe(probe({ exec: { command: "true" } }))).ok, true);
    assert.match((await runProbe(probe({ exec: { command: "false" } }))).error!, /false exited with code 1/);
    assert.match((await runProbe(probe({ exec: { command: "/nonexistent/prog" } }))).error!, /ENOENT/);
    const slow = await runProbe(probe({ exec: { command: "sleep", args: ["5"] } }));
    assert.match(slow.error!, /did not finish within 300 ms/);
  });
});
