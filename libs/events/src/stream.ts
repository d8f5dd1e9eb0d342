import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { VigilConfig } from "./config.js";

const NS_PER_S = 1_000_000_000;

/** The stream config Vigil needs; only fields a 2.9 server knows. */
export function vigilStreamConfig(s: VigilConfig["stream"]): Partial<StreamConfig> & { name: string } {
  return {
    name: s.name,
    subjects: ["vigil.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_bytes: s.maxBytes,
    max_age: s.maxAgeSeconds * NS_PER_S,
    discard: s.discard === "new" ? DiscardPolicy.New : DiscardPolicy.Old,
    duplicate_window: s.duplicateWindowSeconds * NS_PER_S,
    num_replicas: 1,
  };
}

/**
 * Creates the stream, or brings an existing one to the configured limits. Safe to call from every
 * service. A user not allowed to manage streams (every service's own user under `vigil up`, which
 * sets the stream up as admin first) gets `false` instead of an error: the stream is someone else's job.
 */
export async function ensureStream(jsm: JetStreamManager, s: VigilConfig["stream"]): Promise<boolean> {
  try {
    await manageStream(jsm, s);
    return true;
  } catch (err) {
    if (isPermissionError(err)) return false;
    throw err;
  }
}

/**
 * Waits until the stream exists (someone allowed to manage it creates it: `vigil up` as admin, or the
 * decider under compose), asking with STREAM.INFO only, so a user without the right to create
 * streams never trips a permissions violation. Says once that it waits, then every 30 s.
 */
export async function waitForStream(jsm: JetStreamManager, name: string, o: { log?: { info(obj: object, msg: string): void }; signal?: AbortSignal } = {}): Promise<void> {
  let delay = 100;
  let said = 0;
  for (;;) {
    try {
      await jsm.streams.info(name);
      if (said) o.log?.info({ stream: name }, "the stream is there");
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (Date.now() - said >= 30_000) {
      o.log?.info({ stream: name }, `waiting for the ${name} stream (it is set up by vigil up, or by the decider under compose)`);
      said = Date.now();
    }
    await new Promise<void>((resolve, reject) => {
      const signal = o.signal;
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => (clearTimeout(t), reject(signal!.reason));
      const t = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), delay);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    delay = Math.min(1_000, delay * 2);
  }
}

/** A NATS permissions violation (the server refused a publish or subscribe for this user). */
export function isPermissionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: unknown };
  return e?.name === "PermissionViolationError" || /permissions violation/i.test(String(e?.message)) || (!!e?.cause && e.cause !== err && isPermissionError(e.cause));
}

async function manageStream(jsm: JetStreamManager, s: VigilConfig["stream"]): Promise<void> {
  const want = vigilStreamConfig(s);
  try {
    const info = await jsm.streams.info(want.name);
    const c = info.config;
    const same =
      c.max_bytes === want.max_bytes &&
      c.max_age === want.max_age &&
      c.discard === want.discard &&
      c.duplicate_window === want.duplicate_window &&
      JSON.stringify(c.subjects) === JSON.stringify(want.subjects);
    if (!same) await jsm.streams.update(want.name, { ...c, ...want });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(want);
    } catch (addErr) {
      // Another service created it at the same moment: 2.9 may say "subjects overlap with an existing
      // stream" rather than "already in use". It is there now, or the error was about something else.
      const exists = await jsm.streams.info(want.name).then(
        () => true,
        () => false,
      );
      if (!exists) throw addErr;
    }
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: number | string; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    e?.code === 404 ||
    e?.code === "404" ||
    /not found/i.test(String(e?.message))
  );
}
