#!/usr/bin/env node
import { runService } from "@vigil/events";
import { takeReloadRequest } from "./reload.js";
import { startSupervisor, type RunningSupervisor } from "./service.js";

// SIGHUP is a reload (vigil reload, or vigil up passing one on). Listen at once: Node's default for
// SIGHUP ends the process, and one that arrives during boot is acted on once the supervisor runs.
let running: RunningSupervisor | undefined;
let pending = false;
const reload = (r: RunningSupervisor) => void r.reload(takeReloadRequest(r.dataDir)).catch((err) => process.stderr.write(`vigil-supervisor: reload failed: ${(err as Error).message}\n`));
process.on("SIGHUP", () => (running ? reload(running) : (pending = true)));

void runService("supervisor", async (ctx) => {
  running = await startSupervisor(ctx);
  if (pending) reload(running);
  return running;
});
