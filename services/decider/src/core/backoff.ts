// The backoff arithmetic lives in @vigil/events (the supervisor's degraded-mode reflex uses it too).
export { backoffDelay } from "@vigil/events";
