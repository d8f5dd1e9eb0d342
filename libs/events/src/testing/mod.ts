export { startNatsServer, freePort, natsServerBinary, type TestNatsServer } from "./nats-server.js";
export { watchEvents, nextReconnect, type EventLog } from "./events.js";
export * from "./docker.js";
export { until } from "./until.js";
