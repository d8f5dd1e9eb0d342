import { SinkProcess } from "@vigil/sink";

/** The shared secret of the power-cut test's cloud (telemetry signs with it). */
export const POWERCUT_CLOUD_SECRET = "powercut-cloud-secret-0123456789";

/**
 * The power-cut test's cloud (packages/sink) on the machine's own disk, not on LazyFS: the cloud is
 * elsewhere and keeps its power. It is stopped for an outage (telemetry builds a backlog in the
 * stream) and started again on the same port, so the backlog has to survive the cuts to arrive.
 */
export class PowerCutCloud {
  private readonly sink: SinkProcess;
  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
  ) {
    this.sink = new SinkProcess({ port, dataDir, logFile, secret: POWERCUT_CLOUD_SECRET });
  }
  get url(): string {
    return this.sink.url;
  }
  start(): Promise<void> {
    return this.sink.start();
  }
  stop(): Promise<void> {
    return this.sink.stop();
  }
  /** Every event id the cloud has stored. */
  async ids(): Promise<Set<string>> {
    return new Set(await this.sink.ids());
  }
  /** Waits until every id of `wanted` is at the cloud or `timeoutMs` passed; returns the ids still missing. */
  async waitFor(wanted: Iterable<string>, timeoutMs: number): Promise<string[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const have = await this.ids();
      const missing = [...wanted].filter((id) => !have.has(id));
      if (missing.length === 0 || Date.now() > end) return missing;
      await new Promise((r) => setTimeout(r, 250)); // the cloud has no feed to wait on: ask again
    }
  }
}
