export { startSupervisor } from "./service.js";
export { ProcessDriver, type ExitInfo, type RunStatus } from "./process-driver.js";
export { planCommand, type Plan, type Step, type WorkerFacts } from "./plan.js";
