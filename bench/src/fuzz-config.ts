/**
 * Config fuzzing: mutations of a valid vigil.yaml (keys deleted, wrong types, nulls, huge values,
 * unknown keys, duplicate names; and on the text: random bytes, YAML syntax breaks, bad indentation,
 * duplicate keys, alias bombs, tags, several documents, truncation) fed to `loadConfig` in-process, then a
 * sample to the real `vigil up`: a rejected config must exit 2 naming the problem, never with a stack
 * trace; an accepted one must start.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, hashToken, loadConfig, parseConfig, RESERVED_NAMES } from "@vigil/events";
import { stringify } from "yaml";
import type { Rng } from "./fuzz-rng.js";

export const BASE_CONFIG = {
  device: "cfg-001",
  dataDir: "data",
  log: { level: "warn" },
  stream: { name: "VIGIL", maxBytes: 104_857_600, maxAgeSeconds: 3600, discard: "old", duplicateWindowSeconds: 120 },
  supervisor: { heartbeatMs: 5000 },
  decider: { snapshotEvery: 100 },
  gateway: { port: 0, bind: "127.0.0.1", tokens: [{ name: "ops", role: "operator", sha256: hashToken("fuzz-config-token-0123456789") }], maxFrameBytes: 65_536, commandsPerMinute: 30 },
  telemetry: { batchMaxEvents: 1000, downsample: { "obs.health.sample": 10 } },
  health: { intervalMs: 5000 },
  workers: [
    { name: "sensor", command: "node", args: ["-e", "setInterval(() => {}, 1000)"], essential: false, priority: 1, restart: { backoffBaseMs: 100, maxRestarts: 5, stableMs: 10_000 } },
    { name: "logger", command: "node", args: ["-e", "setInterval(() => {}, 1000)"], env: { LEVEL: "info" }, stopGraceMs: 1000 },
  ],
};

type Path = Array<string | number>;

function paths(v: unknown, at: Path = []): Path[] {
  if (v === null || typeof v !== "object") return [at];
  const out: Path[] = at.length ? [at] : [];
  for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, Array.isArray(v) ? Number(k) : k]));
  return out;
}

function setAt(root: any, p: Path, f: (parent: any, key: string | number) => void): void {
  let o = root;
  for (const k of p.slice(0, -1)) {
    if (o === null || typeof o !== "object") return; // an earlier mutation replaced this branch
    o = o[k];
  }
  if (o !== null && typeof o === "object") f(o, p[p.length - 1]!);
}

const WRONG_VALUES = (rng: Rng): unknown[] => [null, "", "yes", 0, -1, 1.5, 1e308, -1e308, true, [], {}, [1, 2], { x: 1 }, "x".repeat(rng.int(1, 64)), 2 ** 64, "NaN", "0x10", "~"];

export interface ConfigMutation {
  category: string;
  text: string;
}

export function mutateConfig(rng: Rng): ConfigMutation {
  const c = rng.weighted({ "delete-key": 10, "wrong-type": 16, null: 5, huge: 5, "unknown-key": 8, "duplicate-worker": 3, "bad-name": 4, "builtin-name": 3, "random-bytes": 8, "syntax-break": 10, indent: 6, "duplicate-key": 4, "alias-bomb": 2, tags: 3, "multi-doc": 2, truncate: 5, "whole-garbage": 2, "top-level": 3, crlf: 2 });
  const obj = structuredClone(BASE_CONFIG) as any;
  const all = paths(obj);
  const text = () => stringify(obj);
  switch (c) {
    case "delete-key":
      for (let i = rng.int(1, 3); i > 0; i--) {
        const p = rng.pick(paths(obj));
        if (p.length) setAt(obj, p, (o, k) => (Array.isArray(o) ? o.splice(Number(k), 1) : delete o[k]));
      }
      return { category: c, text: text() };
    case "wrong-type":
      for (let i = rng.int(1, 2); i > 0; i--) setAt(obj, rng.pick(all), (o, k) => (o[k] = rng.pick(WRONG_VALUES(rng))));
      return { category: c, text: text() };
    case "null":
      setAt(obj, rng.pick(all), (o, k) => (o[k] = null));
      return { category: c, text: text() };
    case "huge": {
      const v = rng.pick<unknown>(["h".repeat(rng.int(100_000, 1_000_000)), 1e308, Number.MAX_SAFE_INTEGER * 8, -Number.MAX_SAFE_INTEGER * 8, Array.from({ length: rng.int(1_000, 5_000) }, (_, i) => i)]);
      setAt(obj, rng.pick(all), (o, k) => (o[k] = v));
      return { category: c, text: text() };
    }
    case "unknown-key": {
      const objects = all.filter((p) => {
        let o: any = obj;
        for (const k of p) o = o[k];
        return o !== null && typeof o === "object" && !Array.isArray(o);
      });
      const key = rng.pick(["worker", "gatway", "port", "__proto__", "constructor", "toString", "Workers", "device ", "x".repeat(300), rng.ascii(8)]);
      const target = rng.bool(0.3) || objects.length === 0 ? obj : (() => {
        let o: any = obj;
        for (const k of rng.pick(objects)) o = o[k];
        return o;
      })();
      Object.defineProperty(target, key, { value: rng.json(2), enumerable: true, configurable: true, writable: true });
      return { category: c, text: text() };
    }
    case "duplicate-worker":
      obj.workers.push({ ...obj.workers[0] });
      return { category: c, text: text() };
    case "bad-name":
      setAt(obj, rng.pick([["device"], ["workers", 0, "name"], ["gateway", "tokens", 0, "name"], ["stream", "name"]]), (o, k) => (o[k] = rng.pick(["rm -rf /", "../..", "a b", "", "a.b", "*", ">", "ñ", "x".repeat(65)])));
      return { category: c, text: text() };
    case "builtin-name":
      // __proto__, constructor, toString …: refused by NameSchema (an object key would collide with the built-in).
      setAt(obj, rng.pick([["device"], ["workers", 0, "name"], ["workers", 1, "name"]]), (o, k) => (o[k] = rng.pick([...RESERVED_NAMES])));
      return { category: c, text: text() };
    case "random-bytes": {
      const t = text();
      const at = rng.int(0, t.length);
      return { category: c, text: t.slice(0, at) + Buffer.from(rng.bytes(rng.int(1, 20))).toString("latin1") + t.slice(at) };
    }
    case "syntax-break": {
      const t = text();
      const at = rng.int(0, t.length - 1);
      return { category: c, text: t.slice(0, at) + rng.pick([":", "{", "}", "[", "]", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "#", "- ", "\t", ": :", "? "]) + t.slice(at + rng.int(0, 2)) };
    }
    case "indent": {
      const lines = text().split("\n");
      const i = rng.int(0, lines.length - 1);
      lines[i] = rng.bool() ? " ".repeat(rng.int(1, 5)) + lines[i] : lines[i]!.replace(/^ +/, "");
      return { category: c, text: lines.join("\n") };
    }
    case "duplicate-key": {
      const lines = text().split("\n");
      const i = rng.int(0, lines.length - 2);
      lines.splice(i, 0, lines[i]!);
      return { category: c, text: lines.join("\n") };
    }
    case "alias-bomb":
      return { category: c, text: `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n${text()}` };
    case "tags":
      return { category: c, text: text().replace(/^device: .*$/m, `device: ${rng.pick(["!!binary aGVsbG8=", "!!js/function 'function(){}'", "!!set {a, b}", "!!timestamp 2026-01-01", "!!int 12", "!!float 1.5", "!custom x", "!!map {a: 1}"])}`) };
    case "multi-doc":
      return { category: c, text: `${text()}---\n${text()}` };
    case "truncate": {
      const t = text();
      return { category: c, text: t.slice(0, rng.int(0, t.length - 1)) };
    }
    case "whole-garbage":
      return { category: c, text: Buffer.from(rng.bytes(rng.int(0, 300))).toString("latin1") };
    case "top-level":
      return { category: c, text: rng.pick(["- a\n- b\n", "42\n", "hello\n", "null\n", "~\n", "''\n", "[]\n", "true\n", "\ufeff" + text()]) };
    default:
      return { category: c, text: text().replace(/\n/g, "\r\n") };
  }
}

export interface ConfigVerdict {
  outcome: "rejected" | "accepted" | "crash";
  message: string;
}

/** loadConfig in-process: a ConfigError is a rejection; anything else thrown is a crash. */
export function judgeConfig(file: string, env: NodeJS.ProcessEnv): ConfigVerdict {
  // The yaml library reports unknown tags (`!custom x`) as process warnings: a thousand of them would bury the report.
  const emit = process.emitWarning;
  process.emitWarning = () => undefined;
  try {
    const cfg = loadConfig(file, env);
    // Validate the accepted case separately: what was accepted must parse again to the same thing.
    const { configDir: _d, configPath: _p, ...rest } = cfg;
    const again = parseConfig(JSON.parse(JSON.stringify(rest)), { env: {} });
    if (JSON.stringify({ ...again, configDir: undefined }) !== JSON.stringify({ ...rest, configDir: undefined })) return { outcome: "crash", message: "accepted config does not parse back to itself" };
    return { outcome: "accepted", message: "" };
  } catch (err) {
    if (err instanceof ConfigError) return { outcome: "rejected", message: err.message };
    return { outcome: "crash", message: `${(err as Error).name}: ${(err as Error).message}` };
  } finally {
    process.emitWarning = emit;
  }
}

export interface ConfigResult {
  inputs: number;
  rejected: number;
  accepted_valid: number;
  crashes: number;
  crashExamples: string[];
  /** Rejections whose message names no field or file (or carries a stack trace). */
  unclearMessages: number;
  categories: Record<string, { rejected: number; accepted: number; crash: number }>;
  vigilUp: { runs: number; exit2: number; startedValid: number; violations: number; violationExamples: string[]; sampleMessages: string[] };
}

/** Runs `vigil up` on one config: the exit code and output (or "running" once it said so; then it is stopped). */
export function runUp(vigilMain: string, file: string, env: NodeJS.ProcessEnv, timeoutMs: number, termDelayMs = 500): Promise<{ code: number | null; out: string; running: boolean; stopCode?: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vigilMain, "up", "-q", "--config", file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let running = false;
    const onOut = (d: Buffer) => {
      out += d.toString();
      if (!running && out.includes("vigil: running")) {
        running = true;
        clearTimeout(t);
        // Not at once: vigil up prints "running" just before it installs its SIGTERM handler (a race, reported in fuzz.md).
        setTimeout(() => child.kill("SIGTERM"), termDelayMs);
      }
    };
    child.stdout.on("data", onOut);
    child.stderr.on("data", onOut);
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(t);
      resolve(running ? { code: null, out, running, stopCode: code } : { code, out, running });
    });
  });
}

export async function fuzzConfig(o: { dir: string; count: number; upSample: number; upValid: number; rng: Rng; vigilMain: string; upEnv: (i: number) => NodeJS.ProcessEnv; progress: (m: string) => void }): Promise<ConfigResult> {
  const r: ConfigResult = { inputs: 0, rejected: 0, accepted_valid: 0, crashes: 0, crashExamples: [], unclearMessages: 0, categories: {}, vigilUp: { runs: 0, exit2: 0, startedValid: 0, violations: 0, violationExamples: [], sampleMessages: [] } };
  mkdirSync(o.dir, { recursive: true });
  const base = join(o.dir, "base.yaml");
  writeFileSync(base, stringify(BASE_CONFIG));
  if (judgeConfig(base, {}).outcome !== "accepted") throw new Error(`the base config is not valid: ${judgeConfig(base, {}).message}`);
  const rejectedFiles: Array<{ file: string; category: string }> = [];
  const acceptedFiles: Array<{ file: string; category: string }> = [];
  for (let i = 0; i < o.count; i++) {
    const m = mutateConfig(o.rng);
    const file = join(o.dir, `m${i}.yaml`);
    writeFileSync(file, m.text, "latin1");
    r.inputs++;
    const cat = (r.categories[m.category] ??= { rejected: 0, accepted: 0, crash: 0 });
    // Judged twice: as a service reads it (no overrides) and with the overrides `vigil up` is given below.
    for (const env of [{}, o.upEnv(i)]) {
      const v = judgeConfig(file, env);
      if (v.outcome === "crash") {
        r.crashes++;
        cat.crash++;
        if (r.crashExamples.length < 10) r.crashExamples.push(`${m.category} (m${i}.yaml${Object.keys(env).length ? ", with vigil up's env overrides" : ""}): ${v.message.slice(0, 200)}`);
        break;
      }
      if (Object.keys(env).length) continue;
      if (v.outcome === "rejected") {
        r.rejected++;
        cat.rejected++;
        if (/\n\s+at /.test(v.message) || !v.message.includes(file)) r.unclearMessages++;
        rejectedFiles.push({ file, category: m.category });
      } else {
        r.accepted_valid++;
        cat.accepted++;
        acceptedFiles.push({ file, category: m.category });
      }
    }
  }
  o.progress(`config: ${r.inputs} mutations in-process: ${r.rejected} rejected, ${r.accepted_valid} accepted, ${r.crashes} crashes; now ${o.upSample} + ${o.upValid} through vigil up`);

  // The sample for the real process: spread over categories (every k-th rejected one), plus a few accepted ones.
  const step = Math.max(1, Math.floor(rejectedFiles.length / o.upSample));
  const sample = rejectedFiles.filter((_, i) => i % step === 0).slice(0, o.upSample);
  const viol = (msg: string) => {
    r.vigilUp.violations++;
    if (r.vigilUp.violationExamples.length < 10) r.vigilUp.violationExamples.push(msg);
  };
  let next = 0;
  const repaired: Array<{ file: string; category: string }> = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < sample.length) {
        const idx = next++;
        const s = sample[idx]!;
        const env = o.upEnv(1_000_000 + idx);
        // The env overrides may repair it (a broken gateway.port replaced by VIGIL_GATEWAY_PORT): then it must start, one at a time below.
        if (judgeConfig(s.file, env).outcome === "accepted") {
          repaired.push(s);
          continue;
        }
        const res = await runUp(o.vigilMain, s.file, env, 30_000);
        r.vigilUp.runs++;
        const name = s.file.split("/").pop();
        if (res.code === 2) r.vigilUp.exit2++;
        if (res.running) viol(`${name} (${s.category}): vigil up started with a bad config`);
        else if (res.code !== 2) viol(`${name} (${s.category}): exit ${res.code}, expected 2: ${res.out.slice(0, 300)}`);
        else if (/\n\s+at /.test(res.out)) viol(`${name} (${s.category}): a stack trace: ${res.out.slice(0, 300)}`);
        else if (!res.out.includes("invalid configuration")) viol(`${name} (${s.category}): no "invalid configuration" message: ${res.out.slice(0, 200)}`);
        else if (r.vigilUp.sampleMessages.length < 6) r.vigilUp.sampleMessages.push(`${s.category}: ${res.out.trim().split("\n").slice(1).join(" | ").slice(0, 200)}`);
      }
    }),
  );
  for (const [i, a] of [...repaired, ...acceptedFiles.filter((a) => !a.category.startsWith("huge")).slice(0, o.upValid)].entries()) {
    const res = await runUp(o.vigilMain, a.file, o.upEnv(2_000_000 + i), 60_000);
    r.vigilUp.runs++;
    if (res.running && res.stopCode === 0) r.vigilUp.startedValid++;
    else viol(`${a.file.split("/").pop()} (${a.category}, valid) did not start and stop cleanly: exit ${res.code ?? res.stopCode}: ${res.out.slice(-300)}`);
  }
  return r;
}
