// "Where the time goes" for the full-system recovery bench (issue 13): a kill's path through the
// services, from the trace points they write with VIGIL_TRACE_TIMING=1 (libs/events trace-timing.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { summarize, type Summary } from "./recovery-common.js";

interface Point {
  service: string;
  trace: string;
  at: number;
  type?: string;
  subject?: string;
  durable?: string;
}

/** One step of the path: from the step before it to the first point after that which matches. */
interface Step {
  name: string;
  what: string;
  is(p: Point): boolean;
}

const at = (service: string, trace: string, more: (p: Point) => boolean = () => true) => (p: Point) => p.service === service && p.trace === trace && more(p);

/** The path of one kill, in order; the first point (the supervisor's child `exit` event) starts it. */
export const TRACE_STEPS: Step[] = [
  { name: "exit_handled", what: "supervisor: child 'exit' → exit handled (its output read to the end)", is: at("supervisor", "sup.exited") },
  { name: "exit_published", what: "supervisor: exit handled → obs.worker.exited handed to the publisher", is: at("supervisor", "pub.send", (p) => p.type === "io.vigil.obs.worker.exited") },
  { name: "bus_to_decider", what: "bus: published → the decider's consumer has it (JetStream stores, then delivers)", is: at("decider", "con.msg", (p) => !!p.subject?.endsWith(".obs.worker.exited")) },
  { name: "decider_decode", what: "decider: message → decoded and checked, handler called", is: at("decider", "con.handler", (p) => !!p.subject?.endsWith(".obs.worker.exited")) },
  { name: "decider_decide", what: "decider: decide → cmd.worker.restart handed to the publisher", is: at("decider", "pub.send", (p) => p.type === "io.vigil.cmd.worker.restart") },
  { name: "bus_to_supervisor", what: "bus: published → the supervisor hears it (core subscription)", is: at("supervisor", "sup.live") },
  { name: "supervisor_decode", what: "supervisor: heard → decoded, in the command handler", is: at("supervisor", "sup.cmd") },
  { name: "supervisor_claim", what: "supervisor: claimed and recorded → execute", is: at("supervisor", "sup.execute") },
  { name: "supervisor_plan", what: "supervisor: planned → its turn in the worker's queue", is: at("supervisor", "sup.dequeued") },
  { name: "supervisor_start", what: "supervisor: steps run → the spare woken (or spawn() returned)", is: at("supervisor", "sup.spawned") },
];

function readPoints(logDir: string): Point[] {
  const points: Point[] = [];
  for (const f of readdirSync(logDir)) {
    if (!/\.log(\.\d+)?$/.test(f)) continue;
    const service = f.replace(/\.log.*$/, "");
    for (const line of readFileSync(join(logDir, f), "utf8").split("\n")) {
      if (!line.startsWith('{"trace"')) continue;
      try {
        points.push({ service, ...(JSON.parse(line) as Omit<Point, "service">) });
      } catch {
        /* a torn last line */
      }
    }
  }
  return points.sort((a, b) => a.at - b.at);
}

/** Each step's duration per kill (kills whose path is incomplete within `windowMs` are left out), summarised. */
export function traceBreakdown(logDir: string, windowMs = 200): { kills: number; steps: Record<string, Summary & { what: string }> } {
  const points = readPoints(logDir);
  const perStep = new Map<string, number[]>(TRACE_STEPS.map((s) => [s.name, []]));
  const total: number[] = [];
  let from = 0;
  for (const start of points.filter(at("supervisor", "sup.exit"))) {
    const row: number[] = [];
    let prev = start.at;
    for (const step of TRACE_STEPS) {
      const i = points.findIndex((p, k) => k >= from && p.at >= prev && p.at < start.at + windowMs && step.is(p));
      if (i < 0) break;
      row.push(points[i]!.at - prev);
      prev = points[i]!.at;
    }
    if (row.length !== TRACE_STEPS.length) continue;
    row.forEach((d, k) => perStep.get(TRACE_STEPS[k]!.name)!.push(d));
    total.push(prev - start.at);
    from = Math.max(0, points.indexOf(start));
  }
  const steps: Record<string, Summary & { what: string }> = {};
  for (const s of TRACE_STEPS) steps[s.name] = { what: s.what, ...summarize(perStep.get(s.name)!) };
  steps.total = { what: "child 'exit' in the supervisor → the worker started again", ...summarize(total) };
  return { kills: total.length, steps };
}
