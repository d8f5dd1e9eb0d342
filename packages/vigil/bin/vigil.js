#!/usr/bin/env node
// Committed entry point, so npm links `vigil` at install time, before the TypeScript is built.
import("../dist/main.js").catch((err) => {
  if (err?.code === "ERR_MODULE_NOT_FOUND") {
    process.stderr.write("vigil: not built yet — run `bash scripts/setup.sh` (or `npx turbo run build`) first\n");
    process.exit(2);
  }
  throw err;
});
