import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** The services `vigil up` runs, in start order (stopped in reverse). */
export const SERVICES = ["decider", "supervisor", "health", "gateway", "telemetry", "netmon", "alerts"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The entry point of a service, found through its package (the CLI runs services, it does not import them). */
export function serviceMain(name: ServiceName): string {
  return join(dirname(require.resolve(`@vigil/${name}/package.json`)), "dist", "main.js");
}

export const DEMO_CONFIG = join(here, "..", "demo", "vigil.yaml");

export interface RuntimeInfo {
  natsUrl: string;
  device: string;
  pid: number;
  configPath: string;
  startedAt: string;
}

export function runtimeFile(dataDir: string): string {
  return join(dataDir, "runtime.json");
}

export function readRuntime(dataDir: string): RuntimeInfo | undefined {
  const f = runtimeFile(dataDir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as RuntimeInfo;
  } catch {
    return undefined;
  }
}
