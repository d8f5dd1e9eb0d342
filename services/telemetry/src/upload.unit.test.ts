import { test } from "node:test";
import assert from "node:assert/strict";
import { batchBody, batchBodyInto } from "./upload.js";

const enc = new TextEncoder();
const batch = (n: number, width: number) => Array.from({ length: n }, (_, i) => enc.encode(JSON.stringify({ id: `e${i}`, pad: "x".repeat(width) })));

test("given one scratch buffer reused across batches of every size, the body is always exactly what batchBody builds", () => {
  const scratch = { buf: Buffer.alloc(0) };
  for (const [n, width] of [[0, 0], [1, 10], [1000, 500], [3, 2], [2000, 300], [10, 0]] as const) {
    const payloads = batch(n, width);
    const want = batchBody(payloads);
    const got = batchBodyInto(payloads, scratch);
    assert.deepEqual(Buffer.from(got), want, `${n} events of ${width} bytes`);
    assert.deepEqual(JSON.parse(got.toString("utf8")), payloads.map((p) => JSON.parse(new TextDecoder().decode(p))));
  }
  const grown = scratch.buf;
  batchBodyInto(batch(5, 5), scratch);
  assert.equal(scratch.buf, grown, "a smaller batch reuses the buffer instead of allocating one");
});
