import { z } from "zod";

/**
 * The properties every plain JavaScript object inherits (`__proto__`, `constructor`, `toString` …).
 * As a worker, service or policy name they would collide with those built-ins wherever a name is used
 * as an object key (the decider's snapshot, its consumers' lookups), so they are refused as names —
 * and the services look names up with Object.hasOwn / Map anyway, for snapshots and events from before.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "toString",
  "valueOf",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

/** Names are single subject tokens: workers, services, policies. */
export const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, "must use only letters, digits, '_' and '-'")
  .max(64)
  .refine((n) => !RESERVED_NAMES.has(n), {
    error: (iss) => `"${String(iss.input)}" is reserved (a built-in JavaScript object property name); choose another name`,
  });
