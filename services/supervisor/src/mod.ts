export { startSupervisor, type SupervisorOptions, type RunningSupervisor } from "./service.js";
export { reloadRequestFile, type ReloadRequest, type ReloadResult } from "./reload.js";
export type { Clock } from "./clock.js";
export { ProcessDriver, type ExitInfo, type RunStatus } from "./process-driver.js";
export { plan, outcomeOf, diffWorkers, startOrder, type Intent, type Plan, type Step, type WorkerFacts, type WorkerSpec } from "./plan.js";
export { DockerDriver, type Attachment } from "./docker-driver.js";
export { macvlanName, internalName, containerName, subnetOf, overlaps, contains, LABEL } from "./networks.js";
