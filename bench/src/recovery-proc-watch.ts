// The full-system recovery bench's eye on /proc, in a thread of its own (issue 13).
//
// Why a thread: in the bench's main thread the watch shared the event loop with the event tap and the
// floor's consumer, and looked once per timer turn (≥ 1 ms, later under load), so its own lateness was
// part of every figure: spawn() returned → new pid seen was p50 2.7 ms with the main thread at nice
// -10. Here a thread does nothing but look: between looks it sleeps in the kernel (Atomics.wait, POLL_MS)
// instead of waiting for a timer turn, and it looks only from a kill until the new pid is there.
import { readdirSync, readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/** Between two looks while a kill is being watched: the watch's resolution. */
const POLL_MS = 0.2;

export interface Seen {
  pid: number;
  /** performance.timeOrigin + performance.now() in the watching thread: the same clock as the bench's `now()`. */
  at: number;
  polls: number;
}

interface Request {
  old: number | undefined;
  t0: number;
  timeoutMs: number;
}
type Reply = { seen: Seen } | { error: string } | { nice: number };

/** The pids of `pid`'s children, from every thread's children list (spawn may run on any). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ")) if (c) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

export interface ProcWatch {
  /** Resolves with the first child of the supervisor running the victim's command line other than `old`. */
  next(old: number | undefined, t0: number, timeoutMs: number): Promise<Seen>;
  /** The watching thread's nice value (raised to -10 when allowed). */
  nice: number;
  stop(): Promise<void>;
}

/** Starts the watching thread for `supervisor`'s children running exactly `victim`. */
export async function startProcWatch(supervisor: number, victim: string[]): Promise<ProcWatch> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { supervisor, victim } });
  const replies: Array<(r: Reply) => void> = [];
  worker.on("message", (r: Reply) => replies.shift()?.(r));
  const failed = new Promise<never>((_, reject) => worker.once("error", reject));
  failed.catch(() => undefined);
  const reply = () => Promise.race([new Promise<Reply>((r) => replies.push(r)), failed]);
  const first = await reply();
  const nice = "nice" in first ? first.nice : 0;
  return {
    nice,
    async next(old, t0, timeoutMs) {
      const r = reply();
      worker.postMessage({ old, t0, timeoutMs } satisfies Request);
      const got = await r;
      if ("seen" in got) return got.seen;
      throw new Error("error" in got ? got.error : "the /proc watch answered out of turn");
    },
    async stop() {
      await worker.terminate();
    },
  };
}

/** The thread: raise its own priority (Linux nice is per thread), then answer each request by looking until found. */
function runWatcher(): void {
  const { supervisor, victim } = workerData as { supervisor: number; victim: string[] };
  const want = victim.join(" ");
  const nap = new Int32Array(new SharedArrayBuffer(4));
  try {
    setPriority(-10);
  } catch {
    /* not allowed: the figures then include the watch's lateness at nice 0, and the report says so */
  }
  parentPort!.postMessage({ nice: getPriority() } satisfies Reply);
  parentPort!.on("message", ({ old, t0, timeoutMs }: Request) => {
    for (let polls = 1; ; polls++) {
      const pid = childrenOf(supervisor).find((p) => p !== old && cmdlineOf(p).join(" ") === want);
      const at = performance.timeOrigin + performance.now();
      if (pid !== undefined) return parentPort!.postMessage({ seen: { pid, at, polls } } satisfies Reply);
      if (at - t0 > timeoutMs) return parentPort!.postMessage({ error: `no new ${want} among the supervisor's (pid ${supervisor}) children in /proc ${timeoutMs} ms after killing pid ${old}` } satisfies Reply);
      Atomics.wait(nap, 0, 0, POLL_MS);
    }
  });
}

if (!isMainThread && (workerData as { supervisor?: number } | undefined)?.supervisor !== undefined) runWatcher();
