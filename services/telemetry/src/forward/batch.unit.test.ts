import { test } from "node:test";
import assert from "node:assert/strict";
import { pendingAfter, streamSeq } from "./batch.js";

/** A message whose client-parsed sequence is a marker: seeing it means the fallback was taken. */
const msg = (reply?: string) => ({ reply, seq: -1 });

test("streamSeq reads the stream sequence from both forms of a JetStream ack subject", () => {
  assert.equal(streamSeq(msg("$JS.ACK.VIGIL.telemetry.1.12345.77.1700000000000000000.5")), 12345);
  assert.equal(streamSeq(msg("$JS.ACK.hub.ACCHASH.VIGIL.telemetry.2.999.78.1700000000000000000.0")), 999);
  assert.equal(streamSeq(msg("$JS.ACK.hub.ACCHASH.VIGIL.telemetry.2.42.78.1700000000000000000.0.r4nd0m")), 42);
});

test("streamSeq leaves anything else to the client's parser", () => {
  assert.equal(streamSeq(msg(undefined)), -1);
  assert.equal(streamSeq(msg("_INBOX.abc.def")), -1);
  assert.equal(streamSeq(msg("$JS.ACK.VIGIL.telemetry.1.notanumber.77.1700000000000000000.5")), -1);
  assert.equal(streamSeq(msg("$JS.NAK.VIGIL.telemetry.1.12345.77.1700000000000000000.5")), -1);
});

test("pendingAfter reads what the consumer still had from both forms of the ack subject, the client's parse otherwise", () => {
  const m = (reply?: string) => ({ reply, info: { pending: -1 } });
  assert.equal(pendingAfter(m("$JS.ACK.VIGIL.telemetry.1.12345.77.1700000000000000000.5")), 5);
  assert.equal(pendingAfter(m("$JS.ACK.hub.ACCHASH.VIGIL.telemetry.2.999.78.1700000000000000000.0")), 0);
  assert.equal(pendingAfter(m("$JS.ACK.hub.ACCHASH.VIGIL.telemetry.2.42.78.1700000000000000000.31.r4nd0m")), 31);
  assert.equal(pendingAfter(m("_INBOX.abc.def")), -1);
  assert.equal(pendingAfter(m(undefined)), -1);
  assert.equal(pendingAfter(m("$JS.ACK.VIGIL.telemetry.1.12345.77.1700000000000000000.x")), -1);
});
