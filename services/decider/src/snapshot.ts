import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { DECIDER_BUCKET, type DeciderSnapshot } from "@vigil/events";

export interface SnapshotStore {
  load(): Promise<DeciderSnapshot | undefined>;
  save(s: DeciderSnapshot): Promise<void>;
}

/** The decider's state in a JetStream KV bucket, one key per device, with the sequence it covers. */
export async function snapshotStore(nc: NatsConnection, device: string): Promise<SnapshotStore> {
  const kv: KV = await new Kvm(nc).create(DECIDER_BUCKET, { history: 1 });
  return {
    async load() {
      const e = await kv.get(device);
      if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
      const s = e.json<DeciderSnapshot>();
      return s.version === 1 ? s : undefined;
    },
    async save(s) {
      await kv.put(device, JSON.stringify(s));
    },
  };
}
