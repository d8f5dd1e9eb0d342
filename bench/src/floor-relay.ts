/**
 * The decider's hop of the JetStream floor, in its own process as the decider is: a durable pull
 * consumer (explicit ack) that republishes every message it gets as a "command", then acks it
 * (publish before ack, like the decider). No validation, no state, no snapshot.
 *
 *   node dist/floor-relay.js <nats-url> <stream> <durable> <out-subject>
 *   (a bus user, when the server wants one: FLOOR_RELAY_USER and FLOOR_RELAY_PASS in the environment)
 *
 * Tells its parent "ready" over IPC once it consumes; exits when the parent goes away or on SIGTERM.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const [url, stream, durable, outSubject] = process.argv.slice(2);
if (!url || !stream || !durable || !outSubject) {
  process.stderr.write("usage: floor-relay <nats-url> <stream> <durable> <out-subject>\n");
  process.exit(2);
}

// The client as Vigil's services connect (libs/events connectBus: noAsyncTraces), so the floor does the same work per hop.
const nc = await connect({ servers: url, name: "bench-floor-relay", noAsyncTraces: true, user: process.env.FLOOR_RELAY_USER, pass: process.env.FLOOR_RELAY_PASS });
const js = jetstream(nc);
const consumer = await js.consumers.get(stream, durable);
const messages = await consumer.consume({ max_messages: 64 });

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  messages.stop();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (process.channel) process.on("disconnect", stop);

process.send?.("ready");
for await (const m of messages) {
  try {
    await js.publish(outSubject, m.data);
    m.ack();
  } catch (err) {
    process.stderr.write(`floor-relay: ${(err as Error).message}\n`);
    m.nak();
  }
}
await nc.drain().catch(() => undefined);
process.disconnect?.();
