import { TYPE_PREFIX } from "./envelope.js";

/**
 * A hand-written check of the CloudEvents envelope (the fields of EnvelopeSchema, codec.ts) for the
 * hot paths: zod's parse of every event's envelope was about a fifth of the sink's CPU in the drain
 * profile (bench/results/telemetry.md), and decodeEvent (every consumer, every event; the decider and
 * the supervisor on the restart path) spent as much in it. It accepts a strict subset of
 * what EnvelopeSchema accepts — every field as the schema wants it and no other key (the schema
 * strips unknown keys; an event with one goes the slow way and is stored stripped, as before) — so
 * an event it passes is one the schema passes, unchanged. Anything else goes through the schema,
 * which either accepts it after all or gives the error message naming the field.
 */
export function isPlainValidEnvelope(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  const e = raw as Record<string, unknown>;
  // Every required field is checked below, so "no other key" is a count: the required ones plus the
  // optional ones set (a key set to undefined, which JSON cannot send, just goes the slow way).
  let keys = 0;
  for (const _ in e) keys++;
  if (keys !== REQUIRED_KEYS + (e.incident !== undefined ? 1 : 0) + (e.causation !== undefined ? 1 : 0) + (e.correlation !== undefined ? 1 : 0)) return false;
  return (
    e.specversion === "1.0" &&
    e.datacontenttype === "application/json" &&
    e.data !== undefined &&
    stringOfLength(e.id, 1, 128) &&
    stringOfLength(e.source, 1, 256) &&
    typeof e.type === "string" &&
    e.type.startsWith(TYPE_PREFIX) &&
    stringOfLength(e.subject, 1, Infinity) &&
    stringOfLength(e.device, 1, Infinity) &&
    optionalString(e.incident) &&
    optionalString(e.causation) &&
    optionalString(e.correlation) &&
    typeof e.time === "string" &&
    isIsoDateTimeWithOffset(e.time)
  );
}

/** specversion, id, source, type, time, subject, datacontenttype, data, device. */
const REQUIRED_KEYS = 9;

const stringOfLength = (v: unknown, min: number, max: number): boolean => typeof v === "string" && v.length >= min && v.length <= max;
const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with a day that exists in its month (Feb 29 in leap
 * years only): the form zod's `z.iso.datetime({ offset: true })` accepts.
 */
const DATE_TIME = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

export function isIsoDateTimeWithOffset(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const day = Number(m[3]);
  if (day <= 28) return true;
  const month = Number(m[2]);
  if (month === 2) {
    const year = Number(m[1]);
    return day === 29 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  }
  return day <= (month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31);
}
