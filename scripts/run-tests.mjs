#!/usr/bin/env node
// Runs a package's compiled tests by tier: node scripts/run-tests.mjs [unit|int|e2e|all]
// (Node 20's test runner takes no globs, so this finds the files.)
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const tier = process.argv[2] ?? "all";
const suffixes = tier === "all" ? [".unit.test.js", ".int.test.js", ".e2e.test.js"] : [`.${tier}.test.js`];
const files = [];
(function walk(dir) {
  let entries = [];
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (suffixes.some((s) => e.endsWith(s))) files.push(p);
  }
})("dist");
files.sort((a, b) => suffixes.findIndex((s) => a.endsWith(s)) - suffixes.findIndex((s) => b.endsWith(s)) || a.localeCompare(b));
if (files.length === 0) {
  console.log(`no ${tier} tests in ${process.cwd()}`);
  process.exit(0);
}
// --test-force-exit: a file whose tests are done exits even if a failed test's cleanup left a handle
// open (a NATS connection reconnecting forever kept a file alive and hung the run); --test-timeout:
// a test that hangs fails after 10 minutes instead of holding the run.
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=1", "--test-force-exit", "--test-timeout=600000", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
