import type { WorkerConfig } from "@vigil/events";

/**
 * What a process worker starts with (docs/security.md, "What workers get"). The supervisor's own
 * environment holds its bus password and whatever `vigil up` was started with; a worker must not
 * see any of it. So a worker gets only what a program needs to run at all, plus what its config
 * declares (`env`) or asks to pass through by name (`inheritEnv`), plus its own name.
 */

/** Always passed through when set: locating programs, the user's home, language and time zone. */
const BASE_NAMES = new Set(["PATH", "HOME", "LANG", "TZ"]);
const isBaseName = (name: string) => BASE_NAMES.has(name) || name.startsWith("LC_");

/** Vigil's own variables (bus credentials, secrets, paths): never a worker's, whatever the config says. */
export const isVigilVariable = (name: string) => name.startsWith("VIGIL_");

export function workerEnv(parent: NodeJS.ProcessEnv, w: Pick<WorkerConfig, "name" | "env" | "inheritEnv">): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined || isVigilVariable(name)) continue;
    if (isBaseName(name) || w.inheritEnv.includes(name)) env[name] = value;
  }
  // The config rejects VIGIL_* names in both lists; this is the last line if one ever gets here.
  for (const [name, value] of Object.entries(w.env)) if (!isVigilVariable(name)) env[name] = value;
  env.VIGIL_WORKER = w.name;
  return env;
}
