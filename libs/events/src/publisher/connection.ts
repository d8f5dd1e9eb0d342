import type { NatsConnection } from "@nats-io/transport-node";

export interface ConnectionState {
  /** False from a disconnect until the reconnect; publish() then queues instead of sending. */
  online(): boolean;
  /** Follows the connection's status until it closes; `onReconnect` runs on each reconnect. */
  watch(onReconnect: () => void): Promise<void>;
}

/** Whether the bus is reachable, as the client last reported it. Starts from `isClosed()` at creation. */
export function trackConnection(nc: NatsConnection): ConnectionState {
  let online = !nc.isClosed();
  return {
    online: () => online,
    async watch(onReconnect) {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnecting") online = false;
        else if (s.type === "reconnect") {
          online = true;
          onReconnect();
        }
      }
    },
  };
}
