import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mergeWorkers, verifyDeployment, type Logger, type VigilConfig } from "@vigil/events";

/**
 * A deployment from the cloud as the supervisor sees it (docs/fleet.md, decisions/0012): the
 * deployer in `vigil up` leaves the signed document it wants running in <dataDir>/deployment/
 * desired.json (synced) and asks for a reload. The supervisor does not take the deployer's word for
 * it: it checks the signature, the key (its own config's fleet.trust) and the pinned workers again,
 * then the deployment's workers and containers are merged with the local config's and planned like any reload.
 */

export const deploymentDir = (dataDir: string): string => join(dataDir, "deployment");
export const desiredDeploymentFile = (dataDir: string): string => join(deploymentDir(dataDir), "desired.json");

/** The local config with the desired deployment's workers merged in; the local config alone when there is none or it does not verify. */
export function withDeployment(config: VigilConfig, log: Logger): VigilConfig {
  const file = desiredDeploymentFile(config.dataDir);
  if (!existsSync(file)) return config;
  let signed: unknown;
  try {
    signed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    log.error({ file, err: (err as Error).message }, "deployment file unreadable: running the local config alone");
    return config;
  }
  const f = config.fleet;
  // The version was the deployer's to check; a rollback re-applies an older, once-good one.
  const v = verifyDeployment(signed, { device: config.device, labels: config.labels, trust: f?.trust ?? [], pinned: f?.pinned ?? [], acceptDeployments: f?.acceptDeployments ?? false, lastVersion: 0 }, { checkVersion: false });
  if (!v.ok) {
    log.error({ file, code: v.code, reason: v.reason }, "deployment refused by the supervisor: running the local config alone");
    return config;
  }
  const d = v.deployment;
  const kindSwitch = [...d.containers.filter((c) => config.workers.some((w) => w.name === c.name)), ...d.workers.filter((w) => config.containers.some((c) => c.name === w.name))].map((x) => x.name);
  if (kindSwitch.length) {
    log.error({ file, workloads: kindSwitch }, "deployment refused by the supervisor: it turns a local worker into a container or back (change the local config for that); running the local config alone");
    return config;
  }
  // Workers and containers share one namespace (the config refuses a name twice): each section merges on its own.
  return { ...config, workers: mergeWorkers(config.workers, d.workers), containers: mergeWorkers(config.containers, d.containers) };
}

/** Whether a deployment is waiting to be applied (the supervisor then reloads right after its boot). */
export const hasDeployment = (dataDir: string): boolean => existsSync(desiredDeploymentFile(dataDir));
