import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "@vigil/events";

/**
 * Calls `onChange` when the kernel reports an address, route or link change: `ip monitor` (netlink)
 * where iproute2 is present, plus a poll as a safety net (or alone, in poll mode). The caller
 * debounces and diffs, so a spurious wake-up costs one read.
 */
export function watchNetlink(opts: { mode: "monitor" | "poll"; pollMs: number; log: Logger; onChange: () => void }): () => void {
  let child: ChildProcess | undefined;
  let stopped = false;
  const startMonitor = () => {
    child = spawn("ip", ["monitor", "address", "route", "link"], { stdio: ["ignore", "pipe", "ignore"] });
    child.stdout!.on("data", () => opts.onChange());
    child.once("error", (err: NodeJS.ErrnoException) => {
      opts.log.warn({ err: err.code ?? err.message }, "ip monitor unavailable: polling only");
      child = undefined;
    });
    child.once("exit", () => {
      child = undefined;
      if (!stopped) setTimeout(() => !stopped && startMonitor(), 1_000).unref();
    });
  };
  if (opts.mode === "monitor") startMonitor();
  const poll = setInterval(() => opts.onChange(), opts.pollMs);
  poll.unref();
  return () => {
    stopped = true;
    clearInterval(poll);
    child?.kill();
  };
}
