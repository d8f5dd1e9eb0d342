import type { StreamSource, StreamSourceInfo } from "@nats-io/jetstream";
import { eventName, type VigilEvent } from "@vigil/events";
import { uplinkDeliverPrefix } from "./fleet-hub-auth.js";

/**
 * The pure half of `vigil fleet`: which sources the fleet stream should hold after an add or a
 * remove, and what a device's sourced events say about it. No I/O, no clock.
 */

/** The JetStream API prefix a device's domain is reached through across the leaf connection. */
export const domainApi = (domain: string) => `$JS.${domain}.API`;

/** The device (domain) a source of the fleet stream reads from, if it is a domain source. */
export function deviceOfSource(source: StreamSource | StreamSourceInfo): string | undefined {
  // 2.9 answers with `external.api` (the client turns `domain` into it); the info type leaves it out.
  const s = source as { domain?: string; external?: { api?: string } };
  if (s.domain) return s.domain;
  const m = /^\$JS\.([^.]+)\.API$/.exec(s.external?.api ?? "");
  return m?.[1];
}

export interface SourcesChange {
  sources: StreamSource[];
  /** Devices whose source this change adds or removes. */
  changed: string[];
  /** Devices that were already in (add) or not in (remove): nothing to do for them. */
  unchanged: string[];
}

/** The fleet stream's sources after adding devices (idempotent: a device already sourced is left as is, so its position is kept). */
export function addSources(current: StreamSource[], devices: string[], originStream: string): SourcesChange {
  const have = new Set(current.map(deviceOfSource));
  const sources = [...current];
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const d of new Set(devices)) {
    if (have.has(d)) unchanged.push(d);
    else {
      // Delivered under the device's own prefix: with per-device hub users (fleet-hub-auth.ts) only that device may publish there.
      sources.push({ name: originStream, external: { api: domainApi(d), deliver: uplinkDeliverPrefix(d) } });
      changed.push(d);
    }
  }
  return { sources, changed, unchanged };
}

/** The fleet stream's sources after removing devices (idempotent: removing one that is not there changes nothing). */
export function removeSources(current: StreamSource[], devices: string[]): SourcesChange {
  const drop = new Set(devices);
  const present = new Set(current.map(deviceOfSource));
  return {
    sources: current.filter((s) => !drop.has(deviceOfSource(s) ?? "")),
    changed: [...drop].filter((d) => present.has(d)),
    unchanged: [...drop].filter((d) => !present.has(d)),
  };
}

export interface OpenIncident {
  id: string;
  worker: string;
  reason: string;
  openedAt: string;
}

/** Incidents opened and not yet resolved or escalated, from a device's dec.incident.* events in stream order. */
export function openIncidents(events: VigilEvent[]): OpenIncident[] {
  const open = new Map<string, OpenIncident>();
  for (const e of events) {
    const n = eventName(e);
    const id = e.incident;
    if (!id) continue;
    if (n === "dec.incident.opened") {
      const d = e.data as { worker: string; reason: string };
      open.set(id, { id, worker: d.worker, reason: d.reason, openedAt: e.time });
    } else if (n === "dec.incident.resolved" || n === "dec.incident.escalated") open.delete(id);
  }
  return [...open.values()];
}

export interface DeviceReport {
  device: string;
  /** In the fleet stream's sources now (a removed device may still have history in the stream). */
  sourced: boolean;
  /** Events on the device not yet sourced (the server's view; only known while the link is up). */
  lag?: number;
  /** Milliseconds since the source last had activity; undefined when it never had. */
  activeMs?: number;
  /** The source's error, e.g. the device's domain is unreachable. */
  error?: string;
  lastEvent?: { time: string; type: string };
  lastHeartbeat?: string;
  openIncidents: OpenIncident[];
}

/** A device's line from the stream info's source entry (if it is sourced) and what its events say. */
export function deviceReport(
  device: string,
  source: StreamSourceInfo | undefined,
  facts: { last?: VigilEvent; heartbeat?: VigilEvent; incidents: VigilEvent[] },
): DeviceReport {
  const activeNs = source?.active;
  const err = (source as { error?: { description?: string } } | undefined)?.error;
  return {
    device,
    sourced: source !== undefined,
    lag: source?.lag,
    activeMs: activeNs !== undefined && activeNs >= 0 ? Math.round(activeNs / 1e6) : undefined,
    error: err?.description,
    lastEvent: facts.last ? { time: facts.last.time, type: eventName(facts.last) ?? facts.last.type } : undefined,
    lastHeartbeat: facts.heartbeat?.time,
    openIncidents: openIncidents(facts.incidents),
  };
}

/** "12s ago" for a time relative to `now` (both ms). */
export function ago(at: string | undefined, now: number): string {
  if (!at) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : s < 172_800 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86_400)}d ago`;
}

/** The status table, one line per device. */
export function formatReports(reports: DeviceReport[], now: number): string {
  const rows = [["DEVICE", "SOURCED", "LAG", "LAST EVENT", "LAST HEARTBEAT", "OPEN INCIDENTS", "LINK"]];
  for (const r of reports) {
    rows.push([
      r.device,
      r.sourced ? "yes" : "no",
      r.lag === undefined ? "-" : String(r.lag),
      r.lastEvent ? `${ago(r.lastEvent.time, now)} ${r.lastEvent.type}` : "never",
      ago(r.lastHeartbeat, now),
      r.openIncidents.length ? `${r.openIncidents.length} (${r.openIncidents.map((i) => i.worker).join(", ")})` : "0",
      r.error ? `error: ${r.error}` : r.activeMs === undefined ? (r.sourced ? "no activity yet" : "-") : `active ${ago(new Date(now - r.activeMs).toISOString(), now)}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}
