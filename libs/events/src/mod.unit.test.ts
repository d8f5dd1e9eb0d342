import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

test("the public surface is named: mod.ts re-exports names, never a whole module (export *)", () => {
  // dist/mod.unit.test.js → src/mod.ts
  const src = readFileSync(fileURLToPath(new URL("../src/mod.ts", import.meta.url)), "utf8");
  assert.doesNotMatch(src, /export \* from/);
  assert.match(src, /export \{[^}]*createPublisher[^}]*\} from "\.\/publisher\.js"/);
});
