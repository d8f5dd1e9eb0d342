// The supervisor's events go through its outbox; a failure to record one is logged (libs/events emit-or-log).
export { emitOrLog, type Emit } from "@vigil/events";
