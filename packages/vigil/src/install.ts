import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./embedded-nats.js";
import { DEFAULT_SERVICE_MEMORY } from "@vigil/events";
import { serviceNodeArgs } from "./service-memory.js";

/**
 * `vigil install` / `vigil uninstall` (docs/unattended.md): Vigil as a systemd service that starts at
 * boot, tells systemd when it is ready and keeps its watchdog fed (sd-notify.ts), with its config in
 * /etc/vigil/vigil.yaml and its data in /var/lib/vigil. `--prefix DIR` puts every file under DIR and
 * `--dry-run` changes nothing else (no user, no systemctl): for inspection and tests.
 */

export interface InstallOptions {
  prefix?: string;
  dryRun: boolean;
  /** The system user to run as; "root" runs as root (no user is created). */
  user: string;
  /** WatchdogSec: systemd restarts Vigil when it stops pinging for this long. */
  watchdogSec: number;
}

export const UNIT_NAME = "vigil.service";
export const CONFIG_PATH = "/etc/vigil/vigil.yaml";
export const DATA_DIR = "/var/lib/vigil";

const here = dirname(fileURLToPath(import.meta.url));
const DOCS = resolve(here, "..", "..", "..", "docs", "unattended.md");

/** The unit file (pure). Each hardening line says what a worker would need to loosen it. */
export function unitFile(o: { node: string; main: string; user: string; watchdogSec: number; configPath?: string; dataDir?: string }): string {
  const config = o.configPath ?? CONFIG_PATH;
  const data = o.dataDir ?? DATA_DIR;
  const asUser = o.user !== "root" ? [`User=${o.user}`, `Group=${o.user}`] : [];
  return `# Written by \`vigil install\`; \`vigil uninstall\` removes it. See ${existsSync(DOCS) ? DOCS : "docs/unattended.md"}.
[Unit]
Description=Vigil self-healing runtime (supervisor, decider, health, telemetry, alerts over NATS JetStream)
Documentation=${existsSync(DOCS) ? `file://${DOCS}` : "https://example.invalid/vigil/docs/unattended.md"}
Wants=network-online.target
After=network-online.target
# Restart=always means always: never stop retrying because of a start rate limit.
StartLimitIntervalSec=0

[Service]
# vigil up says READY=1 once every service and worker has started, then WATCHDOG=1 while the bus
# answers and every service is alive (sd-notify.ts).
Type=notify
# The datagrams are sent by a small helper process vigil up starts (Node has no unix datagram
# sockets), so systemd must accept them from any process of the unit, not only the main pid.
# Services and workers never see NOTIFY_SOCKET: vigil up removes it from their environment.
NotifyAccess=all
# vigil up's own heap is bounded like its services' (serviceMemory: defaults; docs/unattended.md, "Memory and files over months").
ExecStart=${[o.node, ...serviceNodeArgs(DEFAULT_SERVICE_MEMORY), o.main].join(" ")} up --quiet --config ${config} --data-dir ${data}
Restart=always
RestartSec=5
WatchdogSec=${o.watchdogSec}
TimeoutStartSec=120
# vigil up stops its services in order (workers first, the bus last): SIGTERM to it alone, SIGKILL to what is left.
KillMode=mixed
TimeoutStopSec=90
${asUser.join("\n")}
# Logs: JSON lines on stdout/stderr go to the journal (journalctl -u vigil -o cat); worker and
# service output is also kept, bounded, under ${data} (vigil logs <name>).
StandardOutput=journal
StandardError=journal
SyslogIdentifier=vigil

# Hardening. Everything is read-only except the data dir; a worker that writes elsewhere needs its
# path added here (ReadWritePaths=), one that uses devices (serial, I2C, GPIO) needs them reachable
# (they are: no PrivateDevices), and Docker workloads need the socket (connecting works read-only).
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${data}
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
# Not set, on purpose: ProtectControlGroups (worker memory/CPU limits are cgroups Vigil writes),
# PrivateDevices (workers read sensors), PrivateNetwork/RestrictAddressFamilies (the bus, the
# cloud, netmon's netlink), MemoryDenyWriteExecute (Node's JIT).

[Install]
WantedBy=multi-user.target
`;
}

/** The config written when none exists: the device's name, the data dir, no workers yet. */
export function starterConfig(device: string): string {
  return `# Vigil's configuration (README "Configuration reference"). Edit, then: systemctl restart vigil
device: ${device.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64) || "edge-001"}
dataDir: ${DATA_DIR}
workers: []
# workers:
#   - name: sensor
#     command: /usr/bin/python3
#     args: [/opt/sensor/read.py]
logs:
  maxFileBytes: 10485760   # rotate each log at 10 MiB
  keepFiles: 3
  maxTotalBytes: 209715200 # every log under the data dir together
# alerts:
#   targets:
#     - name: ops
#       url: https://hooks.example.com/vigil
#       secretFile: /etc/vigil/alerts-ops.secret   # mode 0600, owner vigil
#       on: [escalated, resolved]
`;
}

interface Step {
  what: string;
  run(): void;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.error) throw new Error(`${cmd}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
}

const userExists = (user: string) => spawnSync("id", ["-u", user], { stdio: "ignore" }).status === 0;

function uidGid(user: string): { uid: number; gid: number } | undefined {
  const u = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
}

export function install(o: InstallOptions, say: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  if (!/^[a-z_][a-z0-9_-]*$/.test(o.user)) throw new UsageError(`--user "${o.user}": a system user name (lower-case letters, digits, '_', '-')`);
  if (!o.dryRun && !o.prefix && process.getuid?.() !== 0) throw new UsageError("vigil install writes /etc and runs systemctl: run it as root (or --dry-run --prefix DIR to look first)");
  const root = resolve(o.prefix ?? "/");
  const at = (p: string) => join(root, p);
  const unit = unitFile({ node: process.execPath, main: resolve(here, "main.js"), user: o.user, watchdogSec: o.watchdogSec });
  const real = !o.dryRun && !o.prefix;
  const steps: Step[] = [];
  if (real && o.user !== "root" && !userExists(o.user)) {
    steps.push({ what: `create the system user ${o.user}`, run: () => sh("useradd", ["--system", "--no-create-home", "--home-dir", DATA_DIR, "--shell", "/usr/sbin/nologin", o.user]) });
  }
  steps.push({
    what: `data dir ${at(DATA_DIR)} (0750${o.user !== "root" ? `, owner ${o.user}` : ""})`,
    run: () => {
      mkdirSync(at(DATA_DIR), { recursive: true, mode: 0o750 });
      const ids = real && o.user !== "root" ? uidGid(o.user) : undefined;
      if (ids) chownSync(at(DATA_DIR), ids.uid, ids.gid);
    },
  });
  const cfg = at(CONFIG_PATH);
  if (!existsSync(cfg)) {
    steps.push({
      what: `config ${cfg} (a starter: no workers yet)`,
      run: () => {
        mkdirSync(dirname(cfg), { recursive: true });
        writeFileSync(cfg, starterConfig(hostname()), { mode: 0o640 });
      },
    });
  } else say(`keeping the config ${cfg}`);
  const unitPath = at(join("/etc/systemd/system", UNIT_NAME));
  steps.push({
    what: `unit ${unitPath}`,
    run: () => {
      mkdirSync(dirname(unitPath), { recursive: true });
      writeFileSync(unitPath, unit);
      chmodSync(unitPath, 0o644);
    },
  });
  if (real) steps.push({ what: "systemctl daemon-reload; systemctl enable --now vigil", run: () => (sh("systemctl", ["daemon-reload"]), sh("systemctl", ["enable", "--now", UNIT_NAME])) });
  for (const s of steps) {
    say(`vigil install: ${s.what}`);
    s.run();
  }
  say(real ? "vigil install: done. Status: systemctl status vigil · Logs: journalctl -u vigil -o cat" : `vigil install: files written under ${root}${o.dryRun ? " (dry run: no user, no systemctl)" : ""}; check with: systemd-analyze verify ${unitPath}`);
  return 0;
}

export function uninstall(o: { prefix?: string; dryRun: boolean; purge: boolean }, say: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): number {
  const root = resolve(o.prefix ?? "/");
  const real = !o.dryRun && !o.prefix;
  if (real && process.getuid?.() !== 0) throw new UsageError("vigil uninstall runs systemctl and removes /etc files: run it as root");
  const unitPath = join(root, "etc/systemd/system", UNIT_NAME);
  if (real) {
    say("vigil uninstall: systemctl disable --now vigil");
    spawnSync("systemctl", ["disable", "--now", UNIT_NAME], { stdio: "inherit" });
  }
  say(`vigil uninstall: remove ${unitPath}`);
  rmSync(unitPath, { force: true });
  if (real) spawnSync("systemctl", ["daemon-reload"], { stdio: "inherit" });
  if (o.purge) {
    say(`vigil uninstall: --purge: remove ${join(root, CONFIG_PATH)} and ${join(root, DATA_DIR)}`);
    rmSync(join(root, CONFIG_PATH), { force: true });
    rmSync(join(root, DATA_DIR), { recursive: true, force: true });
  } else say(`vigil uninstall: kept ${join(root, CONFIG_PATH)} and ${join(root, DATA_DIR)} (--purge removes them; the system user stays)`);
  return 0;
}
