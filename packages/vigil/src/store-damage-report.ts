import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { createPublisher, type VigilConfig } from "@vigil/events";
import type { StoreDamage } from "./store-damage.js";

/**
 * Says what the store check at start found (embedded-nats.ts), on vigil up's output and as one
 * `sys.store.damaged` per block. Under the barrier the events go through an outbox of vigil up's own
 * and are held until a barrier covers them, so another cut right after does not take the report.
 */
export async function reportStoreDamage(nc: NatsConnection, config: VigilConfig, damage: StoreDamage[], hold: boolean, say: (msg: string) => void): Promise<void> {
  if (damage.length === 0) return;
  const pub = await createPublisher(nc, { device: config.device, source: `vigil/${config.device}/up`, outboxDir: join(config.dataDir, "up", "outbox"), holdUntilDurable: hold });
  try {
    for (const d of damage) {
      const lost = d.lostCount > 0 ? `${d.lostCount} message(s) lost, #${d.fromSeq}–${d.toSeq}` : "no message known durable lost";
      say(`store: ${d.file} was torn (${d.reason}); the server keeps its first ${d.keptRecords} record(s); ${lost}; original copied to ${d.movedTo}`);
      await pub.emit("sys.store.damaged", d);
    }
  } catch (err) {
    say(`store: could not record sys.store.damaged: ${(err as Error).message}`);
  } finally {
    await pub.close();
  }
}
