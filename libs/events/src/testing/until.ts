/**
 * Waits for a condition the system reaches on its own (a consumer's acks flushed, a count settled),
 * checking it every `everyMs` until `timeoutMs`; fails naming what it waited for and the last value.
 */
export async function until<T>(what: string, read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await read();
  }
  return last;
}
