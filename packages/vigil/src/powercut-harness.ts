import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Power cuts for tests and benches, with LazyFS (scripts/lazyfs.sh builds it; docs/durability.md):
 * a FUSE file system that keeps every unsynced write in its own cache and drops it on
 * `lazyfs::clear-cache`. What survives a cut is what had been fsynced into the backing folder.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The LazyFS binary, or an error naming exactly what is missing (the test fails with it: never a silent skip). */
export function requireLazyFs(env: NodeJS.ProcessEnv = process.env): string {
  const bin = env.LAZYFS_BIN || join(REPO, ".cache", "lazyfs", "lazyfs", "build", "lazyfs");
  const missing: string[] = [];
  if (!existsSync("/dev/fuse")) missing.push("/dev/fuse (the FUSE device)");
  if (spawnSync("fusermount3", ["-V"]).error) missing.push("fusermount3 (Debian package fuse3)");
  if (!existsSync(bin)) missing.push(`the LazyFS binary ${bin} (build it: bash scripts/lazyfs.sh, which scripts/setup.sh --tests runs)`);
  if (missing.length) throw new Error(`power-cut test needs LazyFS; missing: ${missing.join("; ")}`);
  return bin;
}

export interface LazyFsMount {
  /** Where programs write (the cut applies here). */
  mnt: string;
  /** What the disk holds: only what was fsynced. */
  backing: string;
  /** The power cut: drops every unsynced write (waits for LazyFS's "cache is cleared"). */
  clearCache(): Promise<void>;
  unmount(): Promise<void>;
  /** Mounts again over the same backing folder ("power on"). */
  mount(): Promise<void>;
}

/** Mounts LazyFS over `<root>/backing` at `<root>/mnt`; resolves once it waits for fault commands. */
export async function mountLazyFs(bin: string, root: string): Promise<LazyFsMount> {
  const mnt = join(root, "mnt");
  const backing = join(root, "backing");
  const fifo = join(root, "faults.fifo");
  const config = join(root, "lazyfs.toml");
  for (const d of [mnt, backing]) mkdirSync(d, { recursive: true });
  if (!existsSync(fifo)) spawnSync("mkfifo", [fifo]);
  // LazyFS truncates its log at start: one log per mount.
  let mounts = 0;
  let log = "";
  let child: ChildProcess | undefined;
  const logText = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
  const waitLog = async (what: string, after: number, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (logText().slice(after).includes(what)) return;
      if (child && child.exitCode !== null) throw new Error(`lazyfs exited (${child.exitCode}) before "${what}"; log ${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`lazyfs never logged "${what}" in ${timeoutMs} ms; log ${log}`);
  };
  const mount = async () => {
    log = join(root, `lazyfs-${mounts++}.log`);
    writeFileSync(
      config,
      `[faults]\nfifo_path="${fifo}"\n[cache]\napply_eviction=false\n[cache.simple]\ncustom_size="2gb"\nblocks_per_page=1\n[filesystem]\nlog_all_operations=false\nlogfile="${log}"\n`,
    );
    const from = 0;
    const out = openSync(join(root, "lazyfs.out"), "a");
    child = spawn(bin, [mnt, "--config-path", config, "-o", "allow_other", "-o", "modules=subdir", "-o", `subdir=${backing}`, "-f"], { stdio: ["ignore", out, out] });
    closeSync(out);
    await waitLog("waiting for fault commands", from, 30_000);
  };
  await mount();
  return {
    mnt,
    backing,
    async clearCache() {
      const from = logText().length;
      // Opening a FIFO for writing blocks until LazyFS reads it: a child process does it.
      spawnSync("sh", ["-c", `echo lazyfs::clear-cache > "$1"`, "sh", fifo], { timeout: 10_000 });
      await waitLog("cache is cleared", from, 30_000);
    },
    async unmount() {
      const c = child;
      if (spawnSync("fusermount3", ["-u", mnt]).status !== 0) spawnSync("fusermount3", ["-uz", mnt]);
      if (c && c.exitCode === null) {
        await new Promise<void>((r) => {
          const t = setTimeout(() => (c.kill("SIGKILL"), r()), 10_000);
          c.once("exit", () => (clearTimeout(t), r()));
        });
      }
    },
    mount,
  };
}

/** Every live descendant of `pid` (by parent pid in /proc), the pid itself included. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] !== "Z") parent.set(Number(d), Number(f[1]));
    } catch {
      /* gone */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i] && !out.includes(p)) out.push(p);
  return out.filter((p) => parent.has(p));
}

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }
};

/**
 * A clean power cut of everything under `roots` (their process trees): SIGSTOP (nothing writes any
 * more), clear-cache (unsynced writes are gone), kill -9, unmount. `mount.mount()` is power-on.
 */
export async function powerCut(m: LazyFsMount, roots: number[]): Promise<void> {
  const pids = [...new Set(roots.flatMap(processTree))];
  signal(pids, "SIGSTOP");
  await m.clearCache();
  signal(pids, "SIGKILL");
  const end = Date.now() + 10_000;
  while (pids.some((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z")) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await m.unmount();
}
