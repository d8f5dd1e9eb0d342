import type { Attachment } from "../networks.js";
import type { DriverEvents, ExitInfo } from "../process-driver.js";

export type { Attachment };

export interface DockerDriverEvents extends DriverEvents {
  onExited(info: ExitInfo & { oom?: boolean; containerId?: string }): void;
  onHealth(worker: string, containerId: string, status: "starting" | "healthy" | "unhealthy"): void;
  onNetworks(worker: string, containerId: string, internal: string | undefined, vnics: Attachment[]): void;
}

/** Where the driver reads the time (uptimes, start times): injected so a test can hold it still. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The HTTP status of a failed engine call (dockerode puts it on the error). */
export function statusCodeOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}
