export const KINDS = ["obs", "dec", "cmd", "out", "sys"] as const;
export type Kind = (typeof KINDS)[number];

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Throws when `device` cannot be a single NATS subject token. */
export function assertDeviceId(device: string): void {
  if (!TOKEN.test(device)) {
    throw new Error(`device id "${device}" must use only letters, digits, "_" and "-"`);
  }
}

/** `vigil.<device>.<kind>.<name…>`, e.g. `vigil.edge-001.obs.worker.exited`. */
export function subjectFor(device: string, kind: Kind, name: string): string {
  return `vigil.${device}.${kind}.${name}`;
}

/** Every event of one device, optionally of one kind: `vigil.<device>.>` / `vigil.<device>.<kind>.>`. */
export function deviceFilter(device: string, kind?: Kind): string {
  return kind ? `vigil.${device}.${kind}.>` : `vigil.${device}.>`;
}

/** Where events that failed validation or processing go, with the reason. */
export function deadLetterSubject(device: string): string {
  return subjectFor(device, "sys", "deadletter");
}

export interface ParsedSubject {
  device: string;
  kind: Kind;
  name: string;
}

export function parseSubject(subject: string): ParsedSubject | undefined {
  const parts = subject.split(".");
  if (parts.length < 4 || parts[0] !== "vigil") return undefined;
  const kind = parts[2] as Kind;
  if (!KINDS.includes(kind)) return undefined;
  return { device: parts[1] ?? "", kind, name: parts.slice(3).join(".") };
}
