import { test } from "node:test";
import assert from "node:assert/strict";
import { parseServerVersion, storeDurability, withJetStreamLines } from "./embedded-nats.js";

test("given nats-server 2.9.10, when the store config is made, then it has no sync_interval (2.9 refuses to start with it) and says so", () => {
  const d = storeDurability("nats-server: v2.9.10", { freeBytes: 1e12, streamMaxBytes: 1 << 30, env: {} });
  assert.deepEqual(d.lines, []);
  assert.match(d.summary, /durability barrier every 25 ms/);
  assert.match(d.summary, /v2\.9\.10 has no sync_interval/);
});

test("given nats-server 2.10 or newer, when the store config is made, then it gets a short sync_interval (or the one asked for)", () => {
  assert.deepEqual(storeDurability("nats-server: v2.10.22", { freeBytes: 1e12, streamMaxBytes: 1 << 30, env: {} }).lines, ['  sync_interval: "1s"']);
  assert.deepEqual(storeDurability("nats-server: v2.12.1", { freeBytes: 1e12, streamMaxBytes: 1 << 30, env: { VIGIL_NATS_SYNC_INTERVAL: "always" } }).lines, ['  sync_interval: "always"']);
  assert.deepEqual(parseServerVersion("nats-server: v3.0.0"), [3, 0, 0]);
});

test("given a store on a file system that reports no free space (LazyFS), when the store config is made, then max_file_store is set", () => {
  const d = storeDurability("nats-server: v2.9.10", { freeBytes: 0, streamMaxBytes: 1 << 30, env: {} });
  assert.deepEqual(d.lines, [`  max_file_store: ${10 * 1024 ** 3}`]);
  assert.match(d.summary, /reports no free space/);
});

test("given a generated config, when jetstream lines are added, then they land inside the jetstream block after store_dir", () => {
  const conf = 'listen: "127.0.0.1:4222"\njetstream {\n  store_dir: "/d/nats"\n}\nauthorization {}\n';
  assert.equal(withJetStreamLines(conf, ["  max_file_store: 10"]), 'listen: "127.0.0.1:4222"\njetstream {\n  store_dir: "/d/nats"\n  max_file_store: 10\n}\nauthorization {}\n');
  assert.equal(withJetStreamLines(conf, []), conf);
  assert.throws(() => withJetStreamLines("listen: x\n", ["a"]), /no store_dir/);
});
