import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { connectBus, ensureStream, is, loadConfig, parseConfig } from "@vigil/events";
import { startNatsServer, watchEvents } from "@vigil/events/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { runVigil, vigilUp, writeConfig } from "./e2e-helpers.js";

/**
 * A datagram socket the test owns, like systemd's NOTIFY_SOCKET: Node has no unix datagram sockets,
 * so a few lines of Perl (perl-base) receive and print each datagram as one line (\n escaped).
 */
function notifySocket(path: string): { child: ChildProcess; messages: string[]; waitFor(what: string, pred: (all: string[]) => boolean, timeoutMs?: number): Promise<void>; stop(): void } {
  const script = String.raw`use Socket; my $p = shift; unlink $p; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!"; bind($s, sockaddr_un($p)) or die "bind: $!"; $| = 1; print "listening\n"; while (defined(recv($s, my $b, 65536, 0))) { $b =~ s/\n/\\n/g; print "$b\n" }`;
  const child = spawn("perl", ["-e", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  let buf = "";
  child.stdout!.on("data", (d) => {
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    messages.push(...lines);
    for (const w of [...waiters]) w();
  });
  return {
    child,
    messages,
    waitFor: (what, pred, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(messages)) return;
          waiters.delete(check);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`never got ${what}; datagrams:\n${messages.slice(-20).join("\n")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: () => child.kill(),
  };
}

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
}

// 50 MB of numbered lines as fast as the pipe takes them, then a marker line, then it keeps running.
const FLOOD = `let i = 0; const line = "x".repeat(100); function go() { while (i < 500000) { i++; if (!process.stdout.write(i + " " + line + "\\n")) return process.stdout.once("drain", go); } console.log("flood done " + i); setInterval(() => {}, 1000); } go();`;
const LAST_WORDS = `for (let i = 1; i <= 30; i++) console.log("last words " + i + " " + "y".repeat(2000)); console.error("fatal: the sensor is gone"); process.exit(3);`;

test("vigil up under a NOTIFY_SOCKET: READY=1 after the workers started, WATCHDOG=1 while the bus answers and none once it is gone; a 50 MB worker stays under the log cap; a crash carries its last lines", { timeout: 180_000 }, async () => {
  const srv = await startNatsServer();
  const cfg = writeConfig({
    device: "unattended-1",
    logs: { maxFileBytes: 256 * 1024, keepFiles: 2, maxTotalBytes: 2 * 1024 * 1024, lastLines: 20, lineMaxBytes: 200 },
    workers: [
      { name: "flood", command: process.execPath, args: ["-e", FLOOD] },
      { name: "sleeper", command: "sleep", args: ["600"] },
      { name: "crasher", command: process.execPath, args: ["-e", LAST_WORDS], restart: { maxRestarts: 1, windowMs: 60_000 } },
    ],
  });
  const dataDir = loadConfig(cfg, { ...process.env, VIGIL_DATA_DIR: "" }).dataDir;
  mkdirSync(dataDir, { recursive: true });
  const sock = notifySocket(join(dataDir, "..", "notify.sock"));
  await sock.waitFor("the receiver listening", (m) => m.includes("listening"));
  const nc = await connectBus({ url: srv.url }, "test");
  await ensureStream(await jetstreamManager(nc, { checkAPI: false }), parseConfig({}).stream);
  const events = await watchEvents(nc, { filter: "vigil.unattended-1.>" });
  // WATCHDOG_USEC 1.5 s: a ping every 500 ms while the checks pass.
  const vigil = await vigilUp(cfg, srv.url, { NOTIFY_SOCKET: join(dataDir, "..", "notify.sock"), WATCHDOG_USEC: "1500000" });
  try {
    await sock.waitFor("READY=1", (m) => m.some((x) => x.includes("READY=1")));
    const started = new Set(events.events.filter((e) => is(e, "obs.worker.started")).map((e) => (e.data as { worker: string }).worker));
    const exitedEarly = new Set(events.events.filter((e) => is(e, "obs.worker.exited")).map((e) => (e.data as { worker: string }).worker));
    for (const w of ["flood", "sleeper", "crasher"]) assert.ok(started.has(w) || exitedEarly.has(w), `READY=1 came before ${w} started`);
    assert.match(sock.messages.find((x) => x.includes("READY=1"))!, /STATUS=\d\/7 services running/);
    await sock.waitFor("two WATCHDOG=1 pings", (m) => m.filter((x) => x.includes("WATCHDOG=1")).length >= 2);

    // The crash's last lines are in its exit event, each cut to lineMaxBytes.
    const exit = await events.waitFor("crasher's exit", (e) => is(e, "obs.worker.exited") && e.data.worker === "crasher", 30_000);
    const last = (exit.data as { lastLines?: string[] }).lastLines ?? [];
    assert.equal(last.length, 20, JSON.stringify(last).slice(0, 500));
    assert.equal(last.at(-1), "fatal: the sensor is gone");
    assert.match(last.at(-2)!, /^last words 30 y+$/);
    assert.ok(last.every((l) => l.length <= 200));

    // 50 MB later: the flood's last lines are readable, the logs stay under the cap, the worker runs on.
    const deadline = Date.now() + 120_000;
    let tail = "";
    while (Date.now() < deadline) {
      const r = await runVigil(["logs", "flood", "--lines", "5", "--config", cfg]);
      assert.equal(r.code, 0, r.stderr);
      tail = r.stdout;
      if (/flood done 500000/.test(tail)) break;
      await new Promise((res) => setTimeout(res, 500)); // polling a CLI: there is no event for "the log has it"
    }
    assert.match(tail, /flood done 500000/);
    assert.equal(tail.trim().split("\n").length, 5, tail);
    const total = dirBytes(join(dataDir, "supervisor", "logs")) + dirBytes(join(dataDir, "logs"));
    assert.ok(total <= 2 * 1024 * 1024 + 256 * 1024, `logs take ${total} bytes`);
    assert.ok(dirBytes(join(dataDir, "supervisor", "logs")) <= 2 * 1024 * 1024, "worker logs over the cap");
    assert.ok(!events.events.some((e) => is(e, "obs.worker.exited") && e.data.worker === "flood"), "the flood worker exited");

    // The bus is killed and not restarted: the checks fail, the pings stop.
    await srv.kill();
    await sock.waitFor("STATUS=unhealthy", (m) => m.some((x) => x.includes("STATUS=unhealthy")), 20_000);
    const from = sock.messages.findIndex((x) => x.includes("STATUS=unhealthy"));
    await sock.waitFor("three unhealthy reports", (m) => m.slice(from).filter((x) => x.includes("STATUS=unhealthy")).length >= 3, 20_000);
    assert.equal(sock.messages.slice(from).filter((x) => x.includes("WATCHDOG=1")).length, 0, sock.messages.slice(from).join("\n"));
    assert.match(vigil.output(), /watchdog: the bus does not answer/);
  } finally {
    await vigil.stop();
    sock.stop();
    await events.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await srv.cleanup();
  }
});

test("a NOTIFY_SOCKET that does not exist is reported once and nothing waits for it; a full disk under the log directory is reported once and the worker keeps running", { timeout: 120_000 }, async (t) => {
  const srv = await startNatsServer();
  const cfg = writeConfig({
    device: "unattended-2",
    workers: [{ name: "chatty", command: process.execPath, args: ["-e", `let i = 0; setInterval(() => console.log("line " + (++i) + " " + "z".repeat(1000)), 2);`] }],
  });
  const dataDir = loadConfig(cfg, { ...process.env, VIGIL_DATA_DIR: "" }).dataDir;
  const logDir = join(dataDir, "supervisor", "logs");
  mkdirSync(logDir, { recursive: true });
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", logDir]).status === 0;
  if (!mounted) t.diagnostic("cannot mount a tmpfs here (not root?): the full-disk half runs on a normal disk and only checks the socket");
  const nc = await connectBus({ url: srv.url }, "test");
  await ensureStream(await jetstreamManager(nc, { checkAPI: false }), parseConfig({}).stream);
  const events = await watchEvents(nc, { filter: "vigil.unattended-2.>" });
  const vigil = await vigilUp(cfg, srv.url, { NOTIFY_SOCKET: join(dataDir, "no-such-dir", "notify.sock"), WATCHDOG_USEC: "600000" });
  try {
    const started = await events.waitFor("chatty started", (e) => is(e, "obs.worker.started") && e.data.worker === "chatty", 30_000);
    const supLog = join(dataDir, "logs", "supervisor.log");
    if (mounted) {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !/cannot write the worker's log/.test(existsSync(supLog) ? readFileSync(supLog, "utf8") : "")) await new Promise((r) => setTimeout(r, 200));
      // Minutes of output later (it prints 500 KB/s) the problem is still said only once.
      const stillRunning = await events.waitFor("a heartbeat after the disk filled", (e) => is(e, "sys.service.heartbeat") && e.data.service === "supervisor" && e.seq > started.seq, 30_000);
      const said = readFileSync(supLog, "utf8").split("\n").filter((l) => l.includes("cannot write the worker's log"));
      assert.equal(said.length, 1, said.join("\n"));
      assert.match(said[0]!, /ENOSPC/);
      const w = (stillRunning.data as { workers?: Array<{ name: string; status: string }> }).workers?.find((x) => x.name === "chatty");
      assert.equal(w?.status, "running");
    }
    assert.ok(!events.events.some((e) => is(e, "obs.worker.exited")), "the worker exited");
    const reports = vigil.output().split("\n").filter((l) => l.includes("sd_notify: cannot notify systemd"));
    assert.equal(reports.length, 1, vigil.output());
    assert.match(reports[0]!, /No such file or directory/);
  } finally {
    await vigil.stop();
    if (mounted) spawnSync("umount", [logDir]);
    await events.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await srv.cleanup();
  }
});
