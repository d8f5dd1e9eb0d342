/** The one source of wall-clock time the forwarder reads (injected so a test can control it). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
