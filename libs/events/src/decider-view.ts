import { Kvm, KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { DECIDER_BUCKET, type DeciderSnapshot } from "./state.js";

/**
 * The one reader of the decider's view (its KV snapshot, one key per device) for everyone but the
 * decider itself: the gateway, the health service and the CLI. It checks the snapshot's version, so
 * a newer decider's format is ignored rather than misread, and says why when an entry is unusable.
 */
export const DECIDER_VIEW_VERSION = 1;

export type ViewEntry = { ok: true; snapshot: DeciderSnapshot } | { ok: false; reason: string } | undefined;

/** A KV entry as a snapshot: undefined for none / deleted, a reason for one this version cannot read. */
export function readViewEntry(e: KvEntry | null): ViewEntry {
  if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
  let s: Partial<DeciderSnapshot>;
  try {
    s = e.json<Partial<DeciderSnapshot>>();
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (s.version !== DECIDER_VIEW_VERSION) return { ok: false, reason: `snapshot version ${String(s.version)}, this reader knows ${DECIDER_VIEW_VERSION}` };
  if (typeof s.seq !== "number" || typeof s.state !== "object" || s.state === null) return { ok: false, reason: "snapshot without seq or state" };
  return { ok: true, snapshot: s as DeciderSnapshot };
}

async function openBucket(nc: NatsConnection, create: boolean): Promise<KV | undefined> {
  try {
    // The decider's own settings (services/decider/src/snapshot.ts): creating it first is harmless.
    return create ? await new Kvm(nc).create(DECIDER_BUCKET, { history: 1 }) : await new Kvm(nc).open(DECIDER_BUCKET);
  } catch {
    return undefined; // no decider has run yet, or no right to create it
  }
}

/** The decider's current view of `device`, or undefined when there is none (no decider has run yet) or it is unreadable. */
export async function loadDeciderView(nc: NatsConnection, device: string): Promise<DeciderSnapshot | undefined> {
  const kv = await openBucket(nc, false);
  if (!kv) return undefined;
  const r = readViewEntry(await kv.get(device).catch(() => null));
  return r?.ok ? r.snapshot : undefined;
}

export interface DeciderViewWatch {
  /** The latest readable snapshot. */
  current(): DeciderSnapshot | undefined;
  stop(): Promise<void>;
}

/**
 * Watches the decider's view of `device`: `onChange` with the last value at once (when there is one),
 * then with every new snapshot. `onProblem` hears about entries it cannot read (kept: the last good one).
 */
export async function watchDeciderView(
  nc: NatsConnection,
  device: string,
  onChange: (s: DeciderSnapshot) => void,
  onProblem: (reason: string) => void = () => undefined,
): Promise<DeciderViewWatch> {
  const kv = await openBucket(nc, true);
  if (!kv) throw new Error(`cannot open the decider's KV bucket ${DECIDER_BUCKET}`);
  const watch = await kv.watch({ key: device, include: KvWatchInclude.LastValue });
  let latest: DeciderSnapshot | undefined;
  let stopped = false;
  const running = (async () => {
    for await (const entry of watch) {
      const r = readViewEntry(entry);
      if (!r) continue;
      if (!r.ok) {
        onProblem(r.reason);
        continue;
      }
      latest = r.snapshot;
      onChange(r.snapshot);
    }
  })().catch((err) => !stopped && onProblem(`watch ended: ${(err as Error).message}`));
  return {
    current: () => latest,
    async stop() {
      stopped = true;
      watch.stop();
      await running;
    },
  };
}
