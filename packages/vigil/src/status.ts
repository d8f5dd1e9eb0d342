import { isOpenIncident, loadDeciderView } from "@vigil/events";
import { connectToRunning, type TargetOptions } from "./connect.js";
import { table } from "./format.js";

function ago(iso: string | undefined, now: number): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** `vigil status`: each worker's state, pid, restarts and incident, and the open incidents, from the decider's state. */
export async function status(o: TargetOptions & { json: boolean }): Promise<number> {
  const { nc, config } = await connectToRunning(o);
  try {
    const snap = await loadDeciderView(nc, config.device);
    const workers = [...config.workers, ...config.containers].map((w) => w.name);
    const state = snap?.state ?? { workers: {}, incidents: {} };
    for (const name of Object.keys(state.workers)) if (!workers.includes(name)) workers.push(name);
    // Escalated incidents stay open until the worker is stable again or an operator acknowledges them (`vigil ack`).
    const open = Object.values(state.incidents).filter(isOpenIncident);
    if (o.json) {
      process.stdout.write(JSON.stringify({ device: config.device, nats: config.nats.url, seq: snap?.seq ?? 0, workers: workers.map((name) => ({ name, ...(state.workers[name] ?? { status: "unknown" }) })), incidents: Object.values(state.incidents) }, null, 2) + "\n");
      return 0;
    }
    const now = Date.now();
    process.stdout.write(`device ${config.device} · NATS ${config.nats.url} · decider state at stream sequence ${snap?.seq ?? 0}${snap ? "" : " (no decider state yet: is the decider running?)"}\n\n`);
    process.stdout.write(
      table(
        ["WORKER", "STATE", "PID", "RESTARTS", "SINCE", "INCIDENT"],
        workers.map((name) => {
          const w = state.workers[name];
          return [name, w?.status ?? "unknown", w?.pid ? String(w.pid) : "-", String(w?.restarts ?? 0), w?.startedAt ? ago(new Date(w.startedAt).toISOString(), now) : "-", w?.incident?.slice(0, 8) ?? "-"];
        }),
      ) + "\n\n",
    );
    if (open.length === 0) process.stdout.write("no open incidents\n");
    else process.stdout.write(`open incidents:\n${table(["INCIDENT", "WORKER", "STATUS", "OPENED", "REASON"], open.map((i) => [i.id.slice(0, 8), i.worker, i.status, ago(i.openedAt, now), i.reason]))}\n`);
    return 0;
  } finally {
    await nc.close();
  }
}
