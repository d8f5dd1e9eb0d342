/** Thrown out of any wait once the forwarder is stopping. */
export class Stopped extends Error {}

/**
 * The forwarder's shutdown: a flag every loop checks, and the waits (sleeps, the open breaker) that
 * stop() interrupts at once instead of letting them run out.
 */
export interface StopSignal {
  readonly stopping: boolean;
  /** Resolves after ms; rejects with Stopped on shutdown (at once if already stopping). */
  sleep(ms: number): Promise<void>;
  /** Registers a wait to interrupt on shutdown; returns its unregistration. */
  onStop(wake: () => void): () => void;
  /** Sets the flag and interrupts every registered wait. */
  stop(): void;
}

export function createStopSignal(): StopSignal {
  let stopping = false;
  const wakers = new Set<() => void>();
  const onStop = (wake: () => void) => {
    wakers.add(wake);
    return () => void wakers.delete(wake);
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (stopping) return reject(new Stopped());
      const forget = onStop(() => {
        clearTimeout(t);
        forget();
        reject(new Stopped());
      });
      const t = setTimeout(() => {
        forget();
        resolve();
      }, ms);
    });
  return {
    get stopping() {
      return stopping;
    },
    sleep,
    onStop,
    stop() {
      stopping = true;
      for (const w of [...wakers]) w();
    },
  };
}
