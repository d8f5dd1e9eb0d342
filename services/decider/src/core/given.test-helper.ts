import { eventName, makeEvent, parseConfig, type DataInput, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { createDecider, replay, type Decider } from "./decider.js";

/** given/when/then for the decider's policies: history folded through the whole decider (its own decisions included). */
export function scenario(config: object) {
  const decider: Decider = createDecider(parseConfig({ device: "d", ...config }, { env: {} }));
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  let n = 0;
  const at = <N extends EventName>(ms: number, name: N, data: DataInput<N>, incident?: string): EventOf<N> =>
    makeEvent("d", "test", name, data, { id: `e${++n}`, time: new Date(t0 + ms).toISOString(), incident });
  function given(...history: VigilEvent[]) {
    const r = replay(decider, history);
    return {
      state: r.state,
      history: [...history],
      when(e: VigilEvent) {
        const decisions = decider.decide(r.state, e);
        return { decisions, names: decisions.map((d) => eventName(d)), state: decider.step(r.state, e).state, all: [...history, e] };
      },
    };
  }
  const started = (ms: number, worker: string, pid: number): VigilEvent => at(ms, "obs.worker.started", { worker, pid, command: "x" });
  const sample = (ms: number, o: { workers?: Array<[string, number, number, number?]>; tempC?: number | null; memPct?: number; cpuPct?: number }) =>
    at(ms, "obs.health.sample", {
      cpuPct: o.cpuPct ?? 10,
      load1: 0.1,
      memPct: o.memPct ?? 40,
      tempC: o.tempC === undefined ? 45 : o.tempC,
      disks: [{ mount: "/", usedPct: 20 }],
      workers: (o.workers ?? []).map(([worker, pid, cpuPct, rssBytes]) => ({ worker, pid, cpuPct, rssBytes: rssBytes ?? 10_000_000 })),
      intervalMs: 1000,
    });
  const dataOf = <T>(e: VigilEvent | undefined) => e?.data as T;
  return { decider, at, given, started, sample, dataOf };
}
