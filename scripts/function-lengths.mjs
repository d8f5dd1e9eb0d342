#!/usr/bin/env node
// Lists functions longer than a limit in the non-test sources of libs/* and services/* (and, with
// --all, packages/* and bench/): "a function over ~80 lines is a smell, 150 is the ceiling".
// Exit 1 when one is over --max (default 150). Usage: node scripts/function-lengths.mjs [--max N] [--warn N] [--all]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ts = require("typescript");
const root = join(import.meta.dirname, "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const max = arg("--max", 150);
const warn = arg("--warn", 80);
const dirs = ["libs", "services", ...(process.argv.includes("--all") ? ["packages", "bench"] : [])];

function* sources(dir) {
  for (const e of readdirSync(dir)) {
    if (e === "node_modules" || e === "dist" || e.startsWith(".")) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (/\.ts$/.test(e) && !/\.test\.ts$|\.test-helper\.ts$|\.d\.ts$/.test(e) && !p.includes(`${"/"}testing${"/"}`)) yield p;
  }
}

const found = [];
for (const top of dirs) {
  for (const pkg of readdirSync(join(root, top))) {
    const src = join(root, top, pkg, "src");
    try { statSync(src); } catch { continue; }
    for (const file of sources(src)) {
      const text = readFileSync(file, "utf8");
      const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (node) => {
        if (ts.isFunctionLike(node) && node.body) {
          const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const end = sf.getLineAndCharacterOfPosition(node.end).line;
          const lines = end - start + 1;
          if (lines > warn) {
            const name = node.name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : "(anonymous)");
            found.push({ file: relative(root, file), line: start + 1, name, lines });
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
  }
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found) console.log(`${f.lines > max ? "OVER" : "long"} ${String(f.lines).padStart(4)} ${f.file}:${f.line} ${f.name}`);
const over = found.filter((f) => f.lines > max);
console.log(`${found.length} function(s) over ${warn} lines, ${over.length} over the ${max}-line ceiling`);
process.exit(over.length ? 1 : 0);
