export { startTelemetry } from "./service.js";
export { startForwarder, type Forwarder, type ForwarderOptions, type ForwarderStats, type BreakerState } from "./forwarder.js";
export { createUploader, signBody, batchBody, BATCH_CONTENT_TYPE, SIGNATURE_HEADER, type Uploader } from "./upload.js";
export * from "./policy.js";
