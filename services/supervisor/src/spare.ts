import { spawn, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";
import type { WorkerConfig } from "@vigil/events";

/**
 * A worker's next process, forked ahead of its crash (`restart.prespawn`, docs/architecture-supervisor.md).
 * In the full system `spawn()` was the largest step of a restart (fork of the ~80 MB supervisor, then
 * the child waiting for a core before its exec: p50 6.3 ms of 15.7 from exit to spawn, measured with
 * bench/src/recovery.bench.ts --profile full); a spare has paid that already. It is a /bin/sh that
 * waits on fd 3: a newline there execs the worker in place (same pid, same environment, cwd and
 * process group as a fresh spawn); EOF there — the supervisor is gone, even after kill -9 — makes it
 * exit, so a spare is never left behind.
 */
const WAIT_THEN_EXEC = 'read _ <&3 || exit 0; exec 3<&-; exec "$0" "$@"';

export interface Spare {
  child: ChildProcess;
  /** What it was made for: a reload that changes any of these makes it useless. */
  key: string;
}

/** What a process is made from: a spare made for another key would start the wrong program. */
export function spareKey(w: WorkerConfig, cwd: string): string {
  return JSON.stringify([w.command, w.args, cwd, w.env ?? {}, w.inheritEnv ?? []]);
}

/** Forks the shell that will become the worker; its stdout/stderr are the worker's. */
export function forkSpare(w: WorkerConfig, cwd: string, env: NodeJS.ProcessEnv): Spare {
  // The shell exports PWD; a worker spawned as usual has it only when its environment does.
  const script = env.PWD === undefined ? `unset PWD; ${WAIT_THEN_EXEC}` : WAIT_THEN_EXEC;
  const child = spawn("/bin/sh", ["-c", script, w.command, ...w.args], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe", "pipe"] });
  const trigger = child.stdio[3] as Writable | null;
  trigger?.on("error", () => undefined); // the shell closed it (exec'd, or exited): nothing to tell
  child.on("error", () => undefined); // a spare that cannot be forked is simply not used
  return { child, key: spareKey(w, cwd) };
}

/** Still waiting to be used: forked, not exited. */
export function spareAlive(s: Spare): boolean {
  return s.child.pid !== undefined && s.child.exitCode === null && s.child.signalCode === null;
}

/** Turns the spare into the worker (its exec follows at once); false when it cannot be used. */
export function wakeSpare(s: Spare): boolean {
  const trigger = s.child.stdio[3] as Writable | null;
  if (!spareAlive(s) || !trigger || trigger.destroyed) return false;
  trigger.end("\n");
  return true;
}

/** A spare no longer wanted (reload, stop, shutdown): its group is killed. */
export function discardSpare(s: Spare): void {
  if (!spareAlive(s)) return;
  try {
    process.kill(-s.child.pid!, "SIGKILL");
  } catch {
    /* already gone */
  }
}
