export { startGateway, type GatewayInfo, type GatewayServiceOptions } from "./service.js";
export { createGateway, effectiveTokens, type Gateway, type StateView, type CommandResult } from "./gateway.js";
export { authenticate, bearerToken, originAllowed, canCommand, type Principal, type Role } from "./auth.js";
export { parseRequest, subjectMatches, validFilter, PROTOCOL_VERSION, COMMAND_ACTIONS, CLOSE_UNAUTHORIZED, type Request, type ErrorCode, type StartPoint } from "./protocol.js";
export { renderMetrics, countEvent, newCounters } from "./metrics.js";
export { workerRows, incidentList, stageOf, inIncident, healthPoint, type WorkerRow, type Stage, type HealthPoint } from "./views.js";
export { take, createRateLimiter } from "./rate-limit.js";
