import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The local test image: busybox-static FROM scratch (no registry needed), with its applets linked in /bin. */
export const BUSYBOX_IMAGE = "vigil-busybox:local";

/** Runs the docker CLI; throws with its stderr. */
export function docker(...args: string[]): string {
  const r = spawnSync("docker", args, { encoding: "utf8" });
  if (r.error) throw new Error(`docker ${args[0]}: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? "the docker CLI is not installed (apt-get install docker.io)" : r.error.message}`);
  if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Fails (never skips) with what is missing when the test cannot reach a Docker engine, and builds the
 * busybox test image from the host's busybox-static when it is not there yet.
 */
export function requireDocker(): void {
  try {
    docker("version", "--format", "{{.Server.Version}}");
  } catch (err) {
    throw new Error(`this test needs a running Docker engine (docker.io, dockerd; scripts/setup.sh starts it): ${(err as Error).message}`);
  }
  if (spawnSync("docker", ["image", "inspect", BUSYBOX_IMAGE], { stdio: "ignore" }).status === 0) return;
  const busybox = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("this test needs busybox-static (apt-get install busybox-static) to build its FROM-scratch image");
  const dir = mkdtempSync(join(tmpdir(), "vigil-bbimg-"));
  try {
    copyFileSync(busybox, join(dir, "busybox"));
    writeFileSync(join(dir, "Dockerfile"), 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sleep", "3600"]\n');
    execFileSync("docker", ["build", "-q", "-t", BUSYBOX_IMAGE, dir], { stdio: ["ignore", "ignore", "pipe"] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Removes every container and network labelled for a device (test cleanup). */
export function removeDeviceContainers(device: string): void {
  const ids = docker("ps", "-aq", "--filter", `label=io.vigil.device=${device}`).split("\n").filter(Boolean);
  if (ids.length) docker("rm", "-f", ...ids);
  const nets = docker("network", "ls", "-q", "--filter", `label=io.vigil.device=${device}`).split("\n").filter(Boolean);
  for (const n of nets) spawnSync("docker", ["network", "rm", n], { stdio: "ignore" });
}

/** `docker inspect` of a container's state. */
export function containerState(nameOrId: string): { Status: string; Running: boolean; Paused: boolean; Pid: number; OOMKilled: boolean; ExitCode: number } {
  return JSON.parse(docker("inspect", "--format", "{{json .State}}", nameOrId));
}
