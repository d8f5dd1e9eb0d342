/**
 * The environment a program Vigil runs on a user's behalf (a worker, an exec probe) starts from
 * (docs/security.md, "What workers get"): only what a program needs to run at all. Vigil's own
 * processes hold bus passwords and secrets in theirs; none of it is passed on.
 */
const BASE_NAMES: ReadonlySet<string> = new Set(["PATH", "HOME", "LANG", "TZ"]);

/** Always passed through when set: locating programs, the user's home, language and time zone. */
export const isBaseEnvName = (name: string): boolean => BASE_NAMES.has(name) || name.startsWith("LC_");

/** Vigil's own variables (bus credentials, secrets, paths): never a worker's, whatever the config says. */
export const isVigilVariable = (name: string): boolean => name.startsWith("VIGIL_");

/** The base variables of `parent`, plus the names in `inherit` (never a VIGIL_* one). */
export function baseEnv(parent: NodeJS.ProcessEnv, inherit: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined || isVigilVariable(name)) continue;
    if (isBaseEnvName(name) || inherit.includes(name)) env[name] = value;
  }
  return env;
}
