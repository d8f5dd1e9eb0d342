import { eventName, type VigilEvent } from "@vigil/events";

/** One readable line per event, for `vigil up`'s live feed and `vigil events`. */
export function formatEvent(e: VigilEvent & { seq?: number }): string {
  const name = eventName(e) ?? e.type;
  const d = (e.data ?? {}) as Record<string, any>;
  const time = e.time.slice(11, 23);
  const inc = e.incident ? ` [incident ${e.incident.slice(0, 8)}]` : "";
  const seq = e.seq !== undefined ? `#${e.seq} ` : "";
  let what: string;
  switch (name) {
    case "obs.worker.started":
      what = `${d.worker} started, pid ${d.pid}`;
      break;
    case "obs.worker.exited":
      what = d.error
        ? `${d.worker} could not start: ${d.error}`
        : `${d.worker} (pid ${d.pid}) ${d.expected ? "stopped" : "exited"}: ${d.signal ? `signal ${d.signal}` : `code ${d.code}`} after ${d.uptimeMs} ms`;
      // Degraded mode (docs/degraded-mode.md): the supervisor's reflex handled it.
      if (d.reflex) what += d.reflex.action === "restart" ? ` — degraded: restarted locally in ${d.reflex.delayMs} ms` : ` — degraded: crash loop, not restarted`;
      break;
    case "obs.worker.stable":
      what = `${d.worker} stable (pid ${d.pid}, up ${d.uptimeMs} ms)`;
      break;
    case "dec.remediation.decided":
      what = `decided: ${d.action} ${d.worker} (policy ${d.policy}, attempt ${d.attempt}, delay ${d.delayMs} ms)${d.handledBy ? `, already done by ${d.handledBy}` : ""}`;
      break;
    case "sys.supervisor.degraded":
      what = `supervisor DEGRADED: ${d.reason}`;
      break;
    case "sys.supervisor.restored":
      what = `supervisor back under the decider after ${d.degradedMs} ms (${d.reflexRestarts} local restart(s))`;
      break;
    case "dec.incident.opened":
      what = `incident opened: ${d.reason}`;
      break;
    case "dec.incident.resolved":
      what = `incident resolved: ${d.reason}`;
      break;
    case "dec.incident.escalated":
      what = `INCIDENT ESCALATED: ${d.reason}`;
      break;
    case "out.command.rejected":
      what = `command ${d.action} ${d.worker} rejected: ${d.reason}`;
      break;
    case "out.command.failed":
      what = `command ${d.action} ${d.worker} failed: ${d.error}`;
      break;
    case "sys.service.started":
    case "sys.service.stopped":
      what = `service ${d.service} ${name.endsWith("started") ? "started" : `stopped (${d.reason})`}`;
      break;
    case "sys.deadletter":
      what = `dead letter from ${d.consumer}: ${d.reason} (${d.subject})`;
      break;
    case "obs.health.sample":
      what = `cpu ${d.cpuPct} % · mem ${d.memPct} % · ${d.tempC === null ? "no temperature" : `${d.tempC} °C`}${d.top ? ` · busiest ${d.top.worker ?? d.top.name} (pid ${d.top.pid}) ${d.top.cpuPct} %` : ""}`;
      break;
    case "obs.health.threshold.crossed":
    case "obs.health.threshold.recovered":
      what = `${d.metric}${d.target ? ` ${d.target}` : ""} ${name.endsWith("crossed") ? `crossed ${d.above}` : `recovered below ${d.recoverBelow}`}: ${d.value}${d.top ? ` (busiest: ${d.top.worker ?? `unmanaged ${d.top.name}`} pid ${d.top.pid})` : ""}`;
      break;
    case "obs.health.anomaly":
      what = `anomaly score ${d.score} (${d.feature}, ${d.deviation} σ)${d.worker ? `; busiest worker ${d.worker} ${d.workerCpuPct} %` : ""}`;
      break;
    case "obs.health.problem":
      what = `health problem (${d.what}${d.path ? ` ${d.path}` : ""}): ${d.error}`;
      break;
    case "obs.probe.failed":
      what = `${d.worker} ${d.probe} probe failed ${d.failures}× (threshold ${d.failureThreshold}): ${d.error}`;
      break;
    case "obs.probe.recovered":
      what = `${d.worker} ${d.probe} probe recovered`;
      break;
    default:
      if (name.startsWith("cmd.")) what = `command: ${name.slice(4)} ${d.worker}${d.delayMs ? ` in ${d.delayMs} ms` : ""} (by ${d.requestedBy})`;
      else if (name.startsWith("out.")) what = `${name.slice(4)}: ${d.worker}${d.pid ? ` pid ${d.pid}` : ""}${d.previousPid ? ` (was ${d.previousPid})` : ""}`;
      else what = JSON.stringify(d).slice(0, 160);
  }
  return `${seq}${time} ${name.split(".")[0]} ${what}${inc}`;
}

/** A plain text table: header, rows, columns padded to the widest cell. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? "").padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}
