export { startAlerts } from "./service.js";
export { alertBody, transitionOf } from "./alert-body.js";
export { TargetStates } from "./targets.js";
