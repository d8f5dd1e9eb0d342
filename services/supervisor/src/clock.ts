/** Where the supervisor reads the time (epoch ms): one clock, injected, so a test can hold it still. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
