export { startSupervisor } from "./service.js";
export { ProcessDriver, type ExitInfo, type RunStatus } from "./process-driver.js";
export { planCommand, type Plan, type Step, type WorkerFacts } from "./plan.js";
export { DockerDriver, type Attachment } from "./docker-driver.js";
export { macvlanName, internalName, containerName, subnetOf, overlaps, contains, LABEL } from "./networks.js";
