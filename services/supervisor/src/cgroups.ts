import { readFileSync } from "node:fs";
import { LIMIT_CONTROLLERS, type LimitsBackend, type LimitsSupport } from "./cgroups-backend.js";
import { probeV1 } from "./cgroups-v1.js";
export { groupOnDisk, v1Settings, oomKillCount } from "./cgroups-v1.js";
export { v2Settings } from "./cgroups-v2.js";
export { cpuQuotaUs } from "./cgroups-backend.js";
import { probeV2 } from "./cgroups-v2.js";

/**
 * Resource limits for process workers (docs/reload.md, "Limits and cgroups"). Two backends behind one
 * face, chosen once at start: cgroup v2 when its cpu, memory and pids controllers can be used for
 * Vigil's subtree, else cgroup v1 when those three v1 hierarchies are writable (a hybrid host), else
 * none, and then `probeLimits()` says exactly what is missing and workers run unlimited.
 * The pure parts (mount table and /proc/self/cgroup parsing, the choice, value translation) are here
 * and in the backends' `*Settings` functions, unit-tested in cgroups.unit.test.ts.
 */

export type { LimitsBackend, LimitsSupport } from "./cgroups-backend.js";
/** Kept for the callers written against the v2-only version (reload.ts). */
export type CgroupSupport = LimitsSupport;
export type WorkerCgroups = LimitsBackend;

export interface CgroupMounts {
  /** Where the cgroup2 filesystem is mounted. */
  v2?: string;
  /** Per v1 controller: its hierarchy's mount point and the cgroup path that mount shows as its root. */
  v1: Record<string, { mount: string; root: string }>;
}

/** The cgroup mounts of a /proc/self/mountinfo text (v1 controllers from the super options, co-mounted ones each listed). */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const out: CgroupMounts = { v1: {} };
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const fields = pre.split(" ");
    const [fstype, , superOptions = ""] = post.split(" ");
    const root = fields[3]!;
    const mount = unescapeMountPath(fields[4]!);
    if (fstype === "cgroup2") out.v2 ??= mount;
    else if (fstype === "cgroup") for (const opt of superOptions.split(",")) if (!NOT_CONTROLLERS.has(opt) && !opt.includes("=")) out.v1[opt] ??= { mount, root };
  }
  return out;
}

/** cgroup v1 mount options that are not controller names. */
const NOT_CONTROLLERS = new Set(["rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"]);

/** mountinfo escapes spaces and the like as \040. */
const unescapeMountPath = (p: string): string => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface OwnCgroups {
  /** The "0::" line's path. */
  v2?: string;
  /** Per v1 controller, this process's cgroup path ("4:memory:/process_api/…"). */
  v1: Record<string, string>;
}

/** Where this process is, from a /proc/self/cgroup text. */
export function parseOwnCgroups(text: string): OwnCgroups {
  const out: OwnCgroups = { v1: {} };
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") out.v2 = m[3];
    else for (const c of m[2]!.split(",")) if (c && !c.includes("=")) out.v1[c] = m[3]!;
  }
  return out;
}

/** Which backend to try first, then next, from the mount table alone (writability is then tried for real). */
export function backendOrder(mounts: CgroupMounts): Array<"v2" | "v1"> {
  const order: Array<"v2" | "v1"> = [];
  if (mounts.v2) order.push("v2");
  if (LIMIT_CONTROLLERS.some((c) => mounts.v1[c])) order.push("v1");
  return order;
}

export interface ProbeInput {
  /** Names Vigil's v1 subtree (vigil-<device>). */
  device: string;
  mountinfo?: string;
  procSelfCgroup?: string;
}

/**
 * Chooses the backend once at start: v2 when its controllers are available and writable, else v1
 * when the v1 hierarchies are writable, else none with every backend's reason. Also removes the
 * empty worker groups a killed supervisor left in the chosen backend's subtree.
 */
export function probeLimits(input: ProbeInput): LimitsSupport {
  const mountinfo = input.mountinfo ?? readOr("/proc/self/mountinfo");
  const own = parseOwnCgroups(input.procSelfCgroup ?? readOr("/proc/self/cgroup"));
  const mounts = parseCgroupMounts(mountinfo);
  const order = backendOrder(mounts);
  if (!order.length) return { ok: false, reason: "no cgroup filesystem is mounted (neither cgroup2 nor the cpu, memory, pids v1 hierarchies in /proc/self/mountinfo)" };
  const reasons: string[] = [];
  for (const kind of order) {
    const r = kind === "v2" ? probeV2(mounts.v2!, own.v2 ?? "/") : probeV1(mounts.v1, own.v1, input.device);
    if (r.ok) return r;
    reasons.push(r.reason);
  }
  if (!order.includes("v1")) reasons.push("no cgroup v1 hierarchy for cpu, memory or pids is mounted");
  return { ok: false, reason: reasons.join("; ") };
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * The program and arguments that put a worker in its groups before it execs: Node cannot spawn into a
 * cgroup, so a shell writes its own pid ($$, which exec keeps) into each `cgroup.procs`, then becomes
 * the worker. A write that fails ends the start with the shell's error in the worker's log, exit 125.
 */
export function spawnThroughGroups(procsFiles: string[], command: string, args: string[]): { command: string; args: string[] } {
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return { command: "/bin/sh", args: ["-c", script, "vigil-cgroup", ...procsFiles, "--", command, ...args] };
}
