#!/usr/bin/env node
// `npm run bench`: runs every benchmark (dist/*.bench.js) one after another, each in its own process
// so none disturbs another's measurements. `node dist/run-all.js recovery gateway` runs a subset.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exitWithUsageIfAsked } from "./lib/options.js";

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here).filter((f) => f.endsWith(".bench.js")).sort();
exitWithUsageIfAsked(`
usage: npm run bench [-- NAME ...]   (or node bench/dist/run-all.js [NAME ...])

Runs every benchmark, or the named ones, one after another, each in its own process; each writes
its report to bench/results/NAME.json and NAME.md. Each takes its own options: node bench/dist/NAME.bench.js --help
benchmarks: ${all.map((f) => f.replace(/\.bench\.js$/, "")).join(", ")}
`);
const only = process.argv.slice(2);
const chosen = only.length ? all.filter((f) => only.includes(f.replace(/\.bench\.js$/, ""))) : all;
if (chosen.length === 0) {
  console.error(`no benchmark matches ${only.join(", ")}; have: ${all.map((f) => f.replace(/\.bench\.js$/, "")).join(", ")}`);
  process.exit(2);
}
const results: Array<[string, number | null, number]> = [];
for (const f of chosen) {
  const t0 = Date.now();
  console.error(`\n=== bench ${f} ===`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: "inherit" });
  results.push([f, r.status, Math.round((Date.now() - t0) / 1000)]);
}
console.error("\n=== benchmarks ===");
for (const [f, status, s] of results) console.error(`${status === 0 ? "ok  " : "FAIL"} ${f} (${s} s)`);
console.error("reports: bench/results/*.json and *.md");
process.exit(results.every(([, s]) => s === 0) ? 0 : 1);
