import assert from "node:assert/strict";
import { eventName, makeEvent, parseConfig, type DataInput, type DataOf, type EventName, type EventOf, type VigilEvent } from "@vigil/events";
import { createDecider, replay, type Decider } from "./decider.js";

/** In expected data: a string the actual one must match (a reason's gist), instead of the whole text. */
export class Matching {
  constructor(readonly re: RegExp) {}
}
export const matching = (re: RegExp) => new Matching(re);
/** In expected data: any string (a reason the spec does not pin). */
export const anyString = matching(/^[\s\S]*$/);

type Loose<T> = T extends string ? T | Matching : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;

/**
 * An expected decision: its event name, its whole data (defaults included: the decider publishes
 * parsed data) and its incident. `incident` "#a", "#b" … are placeholders, bound to the first
 * derived id they meet in the list (one label, one id); any other string is compared literally.
 */
export interface Expected {
  name: EventName;
  data: unknown;
  incident?: string;
}
export const decision = <N extends EventName>(name: N, data: Loose<DataOf<N>>, incident?: string): Expected => ({ name, data, ...(incident !== undefined ? { incident } : {}) });

/** The actual value with every place the expected one holds a Matching replaced by that Matching, if it matches. */
function applyMatchers(expected: unknown, actual: unknown): unknown {
  if (expected instanceof Matching) return typeof actual === "string" && expected.re.test(actual) ? expected : actual;
  if (Array.isArray(expected) && Array.isArray(actual)) return actual.map((a, i) => applyMatchers(expected[i], a));
  if (expected && actual && typeof expected === "object" && typeof actual === "object") {
    return Object.fromEntries(Object.entries(actual).map(([k, v]) => [k, Object.hasOwn(expected, k) ? applyMatchers((expected as Record<string, unknown>)[k], v) : v]));
  }
  return actual;
}

/** What then() compares of each decision: name, data and incident, derived incident ids replaced by the placeholders they bind to. */
function normalise(decisions: VigilEvent[], expected: Expected[]): Expected[] {
  const byLabel = new Map<string, string>();
  const labelOf = new Map<string, string>();
  return decisions.map((d, i) => {
    const want = expected[i]?.incident;
    let incident = d.incident;
    if (want?.startsWith("#") && incident !== undefined) {
      if (!byLabel.has(want) && !labelOf.has(incident)) {
        byLabel.set(want, incident);
        labelOf.set(incident, want);
      }
      if (byLabel.get(want) === incident) incident = want;
    }
    return { name: eventName(d)!, data: applyMatchers(expected[i]?.data, d.data), ...(incident !== undefined ? { incident } : {}) };
  });
}

/** What every decision's envelope must say, whatever the policy: caused by the input, at its time, from the decider, correlated by its incident. */
function assertEnvelopes(decisions: VigilEvent[], cause: VigilEvent, again: VigilEvent[]): void {
  for (const d of decisions) {
    assert.equal(d.causation, cause.id, `${d.type} is caused by the input`);
    assert.equal(d.time, cause.time, `${d.type} carries the time of its cause (no clock)`);
    assert.equal(d.source, "vigil/d/decider");
    assert.equal(d.correlation, d.incident, `${d.type} is correlated by its incident`);
  }
  assert.equal(new Set(decisions.map((d) => d.id)).size, decisions.length, "every decision has its own id");
  assert.deepEqual(again.map((d) => d.id), decisions.map((d) => d.id), "the same input decides the same ids (derived, not random)");
}

/**
 * given/when/then for the decider's policies, as emmett's DeciderSpecification: history folded
 * through the whole decider (its own decisions included), then one event, then the whole list of
 * decisions it leads to (.then), none (.thenNothing) or an error (.thenThrows).
 */
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
        let decided: VigilEvent[] | undefined;
        let error: unknown;
        try {
          decided = decider.decide(r.state, e);
        } catch (err) {
          error = err;
        }
        const decisions = () => {
          if (!decided) throw error;
          return decided;
        };
        const outcome = {
          get decisions() {
            return decisions();
          },
          get names() {
            return decisions().map((d) => eventName(d));
          },
          get state() {
            return decider.step(r.state, e).state;
          },
          all: [...history, e],
          /** The whole list of decisions, in order (deep equality on name, data and incident; envelopes checked). */
          then(expected: Expected[]) {
            const actual = decisions();
            assertEnvelopes(actual, e, decider.decide(r.state, e));
            assert.deepStrictEqual(normalise(actual, expected), expected);
            return outcome;
          },
          thenNothing() {
            assert.deepStrictEqual(decisions().map((d) => d.type), []);
            return outcome;
          },
          thenThrows(check: (err: Error) => boolean) {
            assert.ok(!decided, `expected an error, got ${decided?.length} decisions`);
            assert.ok(error instanceof Error && check(error), `unexpected error: ${String(error)}`);
          },
        };
        return outcome;
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
  return { decider, at, given, started, sample };
}
