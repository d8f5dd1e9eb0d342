export * from "./core/mod.js";
export { startDecider, type DeciderServiceOptions } from "./service.js";
export { snapshotStore, type SnapshotStore } from "./snapshot.js";
