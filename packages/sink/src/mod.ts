export { startSink, BATCH_CONTENT_TYPE, type Sink, type SinkOptions } from "./server.js";
export { EventStore, type SinkCounts, type StoredBatch, type StoredEvent } from "./store.js";
export { sign, verify, SIGNATURE_HEADER } from "./signature.js";
export { validateBatch, validateEvent, type Rejection } from "./validate.js";
export { FaultsSchema, pickFault, NO_FAULTS, type Faults, type FaultAction } from "./faults.js";
export { DeliveryLog, type DeliveryRecord, type DeliverySnapshot } from "./delivery-log.js";
export { SinkProcess, SINK_MAIN, type SinkProcessOptions } from "./process.js";
