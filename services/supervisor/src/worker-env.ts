import { baseEnv, isVigilVariable, type WorkerConfig } from "@vigil/events";

/**
 * What a process worker starts with (docs/security.md, "What workers get"). The supervisor's own
 * environment holds its bus password and whatever `vigil up` was started with; a worker must not
 * see any of it. So a worker gets only what a program needs to run at all (libs/events baseEnv), plus
 * what its config asks to pass through by name (`inheritEnv`) or declares (`env`), plus its own name.
 */
export function workerEnv(parent: NodeJS.ProcessEnv, w: Pick<WorkerConfig, "name" | "env" | "inheritEnv">): Record<string, string> {
  const env = baseEnv(parent, w.inheritEnv);
  // The config rejects VIGIL_* names in both lists; this is the last line if one ever gets here.
  for (const [name, value] of Object.entries(w.env)) if (!isVigilVariable(name)) env[name] = value;
  env.VIGIL_WORKER = w.name;
  return env;
}
