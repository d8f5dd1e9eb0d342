import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stderr (stdout stays free for a CLI's output); `VIGIL_LOG_LEVEL` or config sets the level. */
export function createLogger(service: string, level: string = process.env.VIGIL_LOG_LEVEL ?? "info"): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } }, pino.destination(2));
}
