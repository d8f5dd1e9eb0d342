import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderPermissionTables, tablesIn } from "./permission-table.js";

const SECURITY_MD = new URL("../../../docs/security.md", import.meta.url);

describe("docs/security.md's permission tables", () => {
  it("are exactly what permissionsFor() and EVENT_OWNERS say (regenerate: npm run docs:permissions -w @vigil/events)", () => {
    const doc = readFileSync(SECURITY_MD, "utf8");
    const current = tablesIn(doc);
    assert.ok(current, "docs/security.md lost its permission-table markers");
    assert.equal(current, renderPermissionTables(), "docs/security.md's permission tables differ from the code: run `npm run build -w @vigil/events && npm run docs:permissions -w @vigil/events`");
  });

  it("name every service and every event type", () => {
    const t = renderPermissionTables();
    for (const s of ["supervisor", "decider", "health", "telemetry", "netmon", "gateway"]) assert.match(t, new RegExp(`^\\| ${s} \\|`, "m"));
    assert.match(t, /^\| `obs\.worker\.exited` \| `vigil\.<device>\.obs\.worker\.exited` \| supervisor \|$/m);
    assert.match(t, /^\| `sys\.service\.heartbeat` \| `vigil\.<device>\.sys\.service\.<owner>\.heartbeat` \| supervisor, decider \|$/m);
  });
});
