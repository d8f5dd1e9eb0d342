import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runVigil, writeConfig } from "./e2e-helpers.js";

test("vigil install --prefix --dry-run writes a unit that systemd-analyze verify accepts without a warning, a starter config and the data dir; uninstall removes the unit", async () => {
  const which = spawnSync("sh", ["-c", "command -v systemd-analyze"]);
  assert.equal(which.status, 0, "systemd-analyze is missing: install the Debian package systemd (bash scripts/setup.sh --tests does)");
  const root = mkdtempSync(join(tmpdir(), "vigil-install-"));
  const r = await runVigil(["install", "--prefix", root, "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  const unit = join(root, "etc/systemd/system/vigil.service");
  const text = readFileSync(unit, "utf8");
  for (const line of ["Type=notify", "NotifyAccess=all", "Restart=always", "WatchdogSec=60", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/vigil", "PrivateTmp=yes", "User=vigil", "KillMode=mixed"]) {
    assert.ok(text.split("\n").includes(line), `the unit has no "${line}"`);
  }
  assert.match(text, /^ExecStart=\S+ --max-old-space-size=128 --max-semi-space-size=2 --expose-gc \S+main\.js up --quiet --config \/etc\/vigil\/vigil\.yaml --data-dir \/var\/lib\/vigil$/m);
  // verify exits 0 even for unknown keys: what it prints is the verdict.
  const v = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr.trim(), "", `systemd-analyze verify complained:\n${v.stderr}`);
  assert.match(readFileSync(join(root, "etc/vigil/vigil.yaml"), "utf8"), /^dataDir: \/var\/lib\/vigil$/m);
  assert.ok(existsSync(join(root, "var/lib/vigil")));
  // The starter config is valid.
  const ok = await runVigil(["logs", "nothing", "--config", join(root, "etc/vigil/vigil.yaml"), "--data-dir", join(root, "var/lib/vigil")]);
  assert.equal(ok.code, 2);
  assert.match(ok.stderr, /no log for "nothing"/);
  const u = await runVigil(["uninstall", "--prefix", root, "--dry-run"]);
  assert.equal(u.code, 0, u.stderr);
  assert.ok(!existsSync(unit));
  assert.ok(existsSync(join(root, "etc/vigil/vigil.yaml")), "uninstall without --purge keeps the config");
});

test("a logs: or alerts: section with a wrong value exits 2 naming the field", async () => {
  for (const [section, field] of [
    [{ logs: { maxFileBytes: 10 } }, "logs.maxFileBytes"],
    [{ logs: { keepFiles: -1 } }, "logs.keepFiles"],
    [{ alerts: { targets: [{ name: "ops", url: "ftp://x" }] } }, "alerts.targets[0].url"],
    [{ alerts: { targets: [{ name: "ops", url: "https://x.example" }] } }, "alerts.targets[0].secret"],
    [{ alerts: { targets: [{ name: "ops", url: "https://x.example", secret: "0123456789abcdef", on: ["exploded"] }] } }, "alerts.targets[0].on[0]"],
  ] as const) {
    const r = await runVigil(["up", "--config", writeConfig(section)]);
    assert.equal(r.code, 2, `${field}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.includes(field), `${field} not named in: ${r.stderr}`);
  }
});
