/**
 * Bus fuzzing: random and malformed payloads on the subjects the services consume (`obs.*`, `out.*`,
 * `cmd.*`, `sys.*` and unknown kinds under `vigil.<device>.`), published straight into the stream, then
 * an account per durable consumer: every invalid item it received must come back as exactly one
 * `sys.deadletter` naming it (by stream sequence), every valid command for an undeclared worker as one
 * `out.command.rejected` naming it (by event id) — nothing lost, nothing twice.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeEvent, encodeEvent, makeEvent, RESERVED_NAMES, tailEvents, type EventName, type VigilEvent } from "@vigil/events";
import type { Rng } from "./fuzz-rng.js";

export type Intent = "invalid" | "reject";

export interface BusItem {
  category: string;
  subject: string;
  payload: Uint8Array;
  /** What the generator meant: an invalid item (dead letter expected) or a valid command nobody can run (rejection expected). */
  intent: Intent;
  /** The event id, for valid commands (their rejection names it). */
  id?: string;
}

const enc = new TextEncoder();
const SHELLISH = ["rm -rf /", "../../bin/sh", "/bin/sh", "$(reboot)", "`id`", "a;b", "sensor/../x", "..", ".", "a b", "", "a".repeat(65), "ñandú", "sensor\n", "*", ">", "sensor.x", "-rf", "C:\\Windows\\system32"];
const BAD_SIGNALS: unknown[] = ["SIGSTOP", "SIGKILL; rm -rf /", 9, "", "sigkill", null, "SIGSEGV", ["SIGKILL"], { name: "SIGKILL" }];
const ACTIONS = ["restart", "start", "stop", "pause", "resume", "kill"] as const;

/** Valid events of several kinds (for undeclared workers), the raw material most mutations start from. */
function baseEvent(rng: Rng, device: string): VigilEvent {
  const source = `vigil/${device}/fuzz`;
  const meta = { id: rng.id(), time: new Date(Date.UTC(2026, 0, 1) + rng.int(0, 1e9)).toISOString() };
  const ghost = `ghost-${rng.int(0, 999)}`;
  const pick = rng.int(0, 5);
  if (pick === 0) return makeEvent(device, source, "obs.worker.exited", { worker: ghost, pid: rng.int(1, 99999), code: 1, signal: null, expected: false, uptimeMs: rng.int(0, 1e6) }, meta);
  if (pick === 1) return makeEvent(device, source, "obs.worker.started", { worker: ghost, pid: rng.int(1, 99999), command: "node x.js" }, meta);
  if (pick === 2) return makeEvent(device, source, "out.worker.restarted", { worker: ghost, command: rng.id(), requestedBy: "fuzz" }, meta);
  if (pick === 3) return makeEvent(device, source, "obs.worker.stable", { worker: ghost, pid: rng.int(1, 99999), uptimeMs: 10 }, meta);
  return makeEvent(device, source, `cmd.worker.${rng.pick(ACTIONS)}` as EventName as "cmd.worker.restart", { worker: ghost, delayMs: 0, requestedBy: "fuzz" }, meta);
}

const json = (v: unknown) => enc.encode(JSON.stringify(v));
const consumedSubjects = (d: string) => [
  `vigil.${d}.obs.worker.exited`,
  `vigil.${d}.obs.worker.started`,
  `vigil.${d}.obs.health.sample`,
  `vigil.${d}.obs.probe.failed`,
  `vigil.${d}.out.worker.restarted`,
  `vigil.${d}.out.command.rejected`,
  ...ACTIONS.map((a) => `vigil.${d}.cmd.worker.${a}`),
  `vigil.${d}.cmd.net.discover`,
  `vigil.${d}.cmd.container.reattach`,
  `vigil.${d}.cmd.worker.rm-rf`,
  `vigil.${d}.dec.incident.opened`,
  `vigil.${d}.sys.deadletter`,
  `vigil.${d}.sys.service.heartbeat`,
  `vigil.${d}.zzz.unknown`,
];

/** Wrong-typed values per field: each makes the field fail its schema. */
const WRONG: Record<string, unknown[]> = {
  // The last ones are built-in object property names (__proto__, constructor …): NameSchema refuses them.
  worker: [42, null, ["a"], { x: 1 }, "", "rm -rf /", ...RESERVED_NAMES],
  pid: ["123", -1, 0, 1.5, null],
  code: ["1", 1.5, true],
  signal: [9, true, ["SIGKILL"]],
  expected: ["yes", 1, null],
  uptimeMs: [-5, "10", null],
  delayMs: [-1, "0", 1e12, 0.5],
  requestedBy: [5, "x".repeat(129), null],
  command: [5, null, {}],
  reason: [5, "r".repeat(1025)],
};

/** One generated item. Every category but `undeclared-command` is invalid by construction. */
export function genBusItem(rng: Rng, device: string): BusItem {
  const subjects = consumedSubjects(device);
  const category = rng.weighted({
    "random-bytes": 8,
    "invalid-utf8": 7,
    truncated: 8,
    "wrong-shape": 7,
    "wrong-data-type": 12,
    "missing-field": 6,
    "bad-envelope": 10,
    "unknown-type": 5,
    "wrong-subject": 8,
    "wrong-device": 3,
    huge: 1,
    "deep-nesting": 2,
    "shell-worker": 7,
    "bad-signal": 6,
    empty: 1,
    "undeclared-command": 9,
    "builtin-name": 5,
  });
  const anySubject = () => rng.pick(subjects);
  const bad = (subject: string, payload: Uint8Array): BusItem => ({ category, subject, payload, intent: "invalid" });
  const e = baseEvent(rng, device);
  switch (category) {
    case "random-bytes":
      return bad(anySubject(), rng.bytes(rng.int(1, 512)));
    case "invalid-utf8": {
      const b = encodeEvent(e);
      const at = b.indexOf(0x22, rng.int(1, b.length - 2)) + 1 || 2; // inside a string
      const seq = rng.pick([[0xff], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
      return bad(e.subject, new Uint8Array([...b.subarray(0, at), ...seq, ...b.subarray(at)]));
    }
    case "truncated": {
      const b = encodeEvent(e);
      return bad(e.subject, b.subarray(0, rng.int(0, b.length - 2)));
    }
    case "wrong-shape":
      return bad(anySubject(), json(rng.pick([null, [], 42, "str", {}, true, [e], { data: e.data }, rng.json(3)])));
    case "wrong-data-type": {
      const data = { ...(e.data as Record<string, unknown>) };
      const fields = Object.keys(data).filter((k) => WRONG[k]);
      const f = rng.pick(fields);
      data[f] = rng.pick(WRONG[f]!);
      if (rng.bool(0.2)) return bad(e.subject, json({ ...e, data: rng.pick(["x", 1, null, [data], true]) }));
      return bad(e.subject, json({ ...e, data }));
    }
    case "missing-field": {
      const data = { ...(e.data as Record<string, unknown>) };
      delete data.worker;
      return bad(e.subject, json(rng.bool(0.3) ? { ...e, data: undefined } : { ...e, data }));
    }
    case "bad-envelope": {
      const env: Record<string, unknown> = { ...e };
      const mut = rng.int(0, 9);
      if (mut === 0) env.specversion = rng.pick(["0.3", 1, "1.0.0", null]);
      else if (mut === 1) env.id = rng.pick(["", 7, "i".repeat(129), null]);
      else if (mut === 2) env.source = rng.pick(["", 5, null]);
      else if (mut === 3) env.type = rng.pick(["obs.worker.exited", "io.vigil", 3, "IO.VIGIL.obs.worker.exited"]);
      else if (mut === 4) env.time = rng.pick(["yesterday", 1700000000, "2026-13-45T99:00:00Z", "2026-01-01T00:00:00"]);
      else if (mut === 5) env.datacontenttype = rng.pick(["text/plain", "application/xml", null]);
      else if (mut === 6) env.device = rng.pick(["", 1, null]);
      else if (mut === 7) env.subject = rng.pick(["", `vigil.${device}.obs.other`, 9]);
      else delete env[rng.pick(["specversion", "id", "source", "type", "time", "datacontenttype", "device", "subject"])];
      return bad(e.subject, json(env));
    }
    case "unknown-type": {
      const name = rng.pick(["obs.worker.exploded", "cmd.worker.format", "cmd.shell.exec", "out.worker.rebooted", "zzz.unknown"]);
      const subject = `vigil.${device}.${name}`;
      return bad(subject, json({ ...e, type: `io.vigil.${name}`, subject }));
    }
    case "wrong-subject": {
      // A valid event, on a subject another type belongs on (or with a `subject` attribute that says so).
      let s = anySubject();
      if (s === e.subject) s = `vigil.${device}.zzz.unknown`;
      return bad(s, rng.bool(0.3) ? json({ ...e, subject: s }) : encodeEvent(e));
    }
    case "wrong-device": {
      const other = "edge-999";
      return bad(e.subject, json({ ...e, device: other, subject: e.subject.replace(`vigil.${device}.`, `vigil.${other}.`) }));
    }
    case "huge": {
      const size = rng.int(64 * 1024, 900 * 1024);
      const what = rng.int(0, 2);
      if (what === 0) return bad(e.subject, json({ ...e, id: "i".repeat(size) }));
      if (what === 1) {
        const cmd = baseEvent(rng, device);
        return bad(`vigil.${device}.cmd.worker.restart`, json({ ...cmd, type: "io.vigil.cmd.worker.restart", subject: `vigil.${device}.cmd.worker.restart`, data: { worker: "ghost", reason: rng.pick(["a", "Z", "7", " "]).repeat(size) } }));
      }
      return bad(anySubject(), rng.bytes(size));
    }
    case "deep-nesting": {
      const depth = rng.int(1_000, 100_000);
      const deep = "[".repeat(depth) + "]".repeat(depth);
      const text = rng.bool() ? deep : JSON.stringify({ ...e, data: { worker: "__DEEP__" } }).replace('"__DEEP__"', deep);
      return bad(e.subject, enc.encode(text));
    }
    case "shell-worker": {
      const action = rng.pick(ACTIONS);
      const subject = `vigil.${device}.cmd.worker.${action}`;
      const worker = rng.pick(SHELLISH);
      // "-rf" is a well-formed name: a command for it is valid, and rejected as undeclared.
      if (/^[A-Za-z0-9_-]{1,64}$/.test(worker)) {
        const v = makeEvent(device, `vigil/${device}/fuzz`, `cmd.worker.${action}` as "cmd.worker.kill", { worker, delayMs: 0, requestedBy: "fuzz" }, { id: rng.id() });
        return { category, subject, payload: encodeEvent(v), intent: "reject", id: v.id };
      }
      return bad(subject, json({ ...e, type: `io.vigil.cmd.worker.${action}`, subject, data: { worker, delayMs: 0, requestedBy: "fuzz", ...(action === "kill" ? { signal: "SIGKILL" } : {}) } }));
    }
    case "bad-signal": {
      const subject = `vigil.${device}.cmd.worker.kill`;
      return bad(subject, json({ ...e, type: "io.vigil.cmd.worker.kill", subject, data: { worker: `ghost-${rng.int(0, 99)}`, delayMs: 0, requestedBy: "fuzz", signal: rng.pick(BAD_SIGNALS) } }));
    }
    case "empty":
      return bad(anySubject(), new Uint8Array(0));
    case "builtin-name":
      // A well-formed event whose worker is __proto__, constructor, toString …: refused by NameSchema, so
      // it is dead-lettered rather than used as an object key by a service (Vigil issue 11).
      return bad(e.subject, json({ ...e, data: { ...(e.data as object), worker: rng.pick([...RESERVED_NAMES]) } }));
    default: {
      // Valid commands for workers the config does not declare (well-formed names): the supervisor answers out.command.rejected.
      const id = rng.id();
      const source = `vigil/${device}/fuzz`;
      const ghost = `ghost-${rng.int(0, 9999)}`;
      const v = rng.bool(0.1)
        ? makeEvent(device, source, "cmd.container.reattach", { worker: ghost, interface: "eth0", requestedBy: "fuzz" }, { id })
        : makeEvent(device, source, `cmd.worker.${rng.pick(ACTIONS)}` as "cmd.worker.kill", { worker: ghost, delayMs: 0, requestedBy: "fuzz", ...(rng.bool(0.3) ? { signal: "SIGTERM" as const } : {}) }, { id });
      return { category, subject: v.subject, payload: encodeEvent(v), intent: "reject", id };
    }
  }
}

/** Whether the NATS filter matches the subject. */
export function matches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length || (f[i] !== "*" && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

export interface ConsumerAccount {
  filter: string;
  /** Items the consumer was handed (its filter matched). */
  received: number;
  invalid: number;
  deadLettered: number;
  /** Valid commands for undeclared workers: answered with out.command.rejected (supervisor only). */
  toReject: number;
  rejected: number;
  /** Invalid items with no dead letter, valid ones with no rejection, and anything answered twice or wrongly. */
  unaccounted: number;
  problems: string[];
}

export interface BusResult {
  inputs: number;
  published: number;
  notPublished: Record<string, number>;
  categories: Record<string, number>;
  invalid: number;
  deadLettered: number;
  rejected: number;
  unaccounted: number;
  consumers: Record<string, ConsumerAccount>;
  /** Items whose intent (generator) and codec verdict differ: either a generator slip or a codec bug. */
  oracleDisagreements: Array<{ category: string; subject: string; intent: Intent; codec: string }>;
  drainMs: number;
  reasons: Record<string, number>;
}

export async function fuzzBus(
  nc: NatsConnection,
  o: { device: string; stream: string; count: number; rng: Rng; consumers: Record<string, string>; progress: (m: string) => void },
): Promise<BusResult> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const items = Array.from({ length: o.count }, () => genBusItem(o.rng, o.device));
  const categories: Record<string, number> = {};
  const oracleDisagreements: BusResult["oracleDisagreements"] = [];
  const codecValid = items.map((it) => {
    categories[it.category] = (categories[it.category] ?? 0) + 1;
    let verdict = "valid";
    try {
      decodeEvent(it.subject, it.payload);
    } catch (err) {
      verdict = (err as Error).message.slice(0, 160);
    }
    const valid = verdict === "valid";
    if (valid !== (it.intent === "reject")) oracleDisagreements.push({ category: it.category, subject: it.subject, intent: it.intent, codec: verdict });
    return valid;
  });

  const startSeq = (await jsm.streams.info(o.stream)).state.last_seq;
  const seqOf = new Map<number, number>(); // stream seq → item index
  const notPublished: Record<string, number> = {};
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < items.length) {
        const i = next++;
        const it = items[i]!;
        try {
          const ack = await js.publish(it.subject, it.payload, { timeout: 10_000 });
          seqOf.set(ack.seq, i);
        } catch (err) {
          const k = (err as Error).message.slice(0, 80);
          notPublished[k] = (notPublished[k] ?? 0) + 1;
        }
      }
    }),
  );
  const lastSeq = Math.max(startSeq, ...seqOf.keys());
  o.progress(`bus: published ${seqOf.size} of ${items.length} items in ${Date.now() - t0} ms (stream seq ${startSeq + 1}..${lastSeq}); waiting for the consumers`);

  // Drained: every consumer has nothing pending and nothing unacknowledged (dead letters are published before term()).
  const deadline = Date.now() + 150_000;
  for (;;) {
    const infos = await Promise.all(Object.keys(o.consumers).map((c) => jsm.consumers.info(o.stream, c)));
    if (infos.every((ci) => ci.num_pending === 0 && ci.num_ack_pending === 0 && ci.delivered.stream_seq >= lastSeq - 0)) break;
    if (infos.every((ci) => ci.num_pending === 0 && ci.num_ack_pending === 0)) break;
    if (Date.now() > deadline) throw new Error(`consumers did not drain in 150 s: ${infos.map((ci) => `${ci.name} pending ${ci.num_pending} ack-pending ${ci.num_ack_pending}`).join(", ")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const drainMs = Date.now() - t0;
  o.progress(`bus: consumers drained after ${drainMs} ms`);

  // The answers: dead letters (by consumer and stream seq) and rejections (by command id).
  const expectRejections = items.filter((it, i) => codecValid[i] && it.intent === "reject").length;
  const answers: VigilEvent[] = [];
  const tail = await tailEvents(nc, { stream: o.stream, filter: `vigil.${o.device}.>`, from: { seq: startSeq + 1 } }, (e) => {
    if (e.type === "io.vigil.sys.deadletter" || e.type === "io.vigil.out.command.rejected") answers.push(e);
  });
  // Rejections are emitted after the ack (the supervisor runs commands asynchronously): wait for them, then for quiet.
  let last = -1;
  let quietSince = Date.now();
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 300));
    if (answers.length !== last) {
      last = answers.length;
      quietSince = Date.now();
    }
    const rej = answers.filter((a) => a.type === "io.vigil.out.command.rejected").length;
    if (rej >= expectRejections && Date.now() - quietSince > 1_500) break;
  }
  await tail.stop();

  const idIndex = new Map(items.map((it, i) => [it.id, i] as const).filter(([id]) => id !== undefined));
  const reasons: Record<string, number> = {};
  const consumers: Record<string, ConsumerAccount> = {};
  for (const [name, filter] of Object.entries(o.consumers)) {
    const acc: ConsumerAccount = { filter, received: 0, invalid: 0, deadLettered: 0, toReject: 0, rejected: 0, unaccounted: 0, problems: [] };
    const dl = new Map<number, number>();
    for (const a of answers) {
      if (a.type !== "io.vigil.sys.deadletter") continue;
      const d = a.data as { consumer: string; streamSeq?: number; streamSeqs?: number[]; reason: string };
      if (d.consumer !== name) continue;
      // A flood's summary dead letter names every message it refuses (streamSeqs).
      const seqs = (d.streamSeqs ?? (d.streamSeq === undefined ? [] : [d.streamSeq])).filter((s) => seqOf.has(s));
      if (seqs.length === 0) continue;
      for (const s of seqs) dl.set(s, (dl.get(s) ?? 0) + 1);
      const r = d.reason.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N").slice(0, 70);
      reasons[r] = (reasons[r] ?? 0) + 1;
    }
    const rej = new Map<number, number>();
    if (name === "supervisor") {
      for (const a of answers) {
        if (a.type !== "io.vigil.out.command.rejected") continue;
        const i = idIndex.get((a.data as { command: string }).command);
        if (i !== undefined) rej.set(i, (rej.get(i) ?? 0) + 1);
      }
    }
    for (const [seq, i] of seqOf) {
      const it = items[i]!;
      if (!matches(filter, it.subject)) continue;
      acc.received++;
      const n = dl.get(seq) ?? 0;
      if (!codecValid[i]) {
        acc.invalid++;
        acc.deadLettered += Math.min(n, 1);
        if (n !== 1) {
          acc.unaccounted++;
          if (acc.problems.length < 10) acc.problems.push(`seq ${seq} (${it.category} on ${it.subject}): ${n} dead letters, expected 1`);
        }
        continue;
      }
      if (n > 0) {
        acc.unaccounted++;
        if (acc.problems.length < 10) acc.problems.push(`seq ${seq} (${it.category}): a valid item was dead-lettered`);
      }
      if (name === "supervisor" && it.intent === "reject") {
        acc.toReject++;
        const r = rej.get(i) ?? 0;
        acc.rejected += Math.min(r, 1);
        if (r !== 1) {
          acc.unaccounted++;
          if (acc.problems.length < 10) acc.problems.push(`command ${it.id} (${it.subject}): ${r} rejections, expected 1`);
        }
      }
    }
    consumers[name] = acc;
  }
  const sum = (k: keyof ConsumerAccount) => Object.values(consumers).reduce((s, c) => s + (c[k] as number), 0);
  return {
    inputs: items.length,
    published: seqOf.size,
    notPublished,
    categories,
    invalid: [...seqOf.values()].filter((i) => !codecValid[i]).length,
    deadLettered: sum("deadLettered"),
    rejected: sum("rejected"),
    unaccounted: sum("unaccounted"),
    consumers,
    oracleDisagreements: oracleDisagreements.slice(0, 20),
    drainMs,
    reasons,
  };
}
