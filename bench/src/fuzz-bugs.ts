// The fuzz report's "bugs found" section, derived from the run (fuzz.json's figures).
/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The "bugs found" list, each status read from this run's figures (not written by hand): a bug is
 * "Open" only when this run shows it, "not seen in this run" when a race did not show, "Fixed" when the
 * run's check for it passed.
 */
export function bugStatuses(r: any): string[] {
  const crashes = r.config.loader_crashes as number;
  const race = r.sigterm_right_after_running as string[];
  const raceBad = race.filter((x) => !x.startsWith("stopped cleanly")).length;
  const probe413 = r.http.keep_alive_probes["after a 413 (body over maxFrameBytes, Content-Length)"] as string;
  const closed413 = /Connection: close/.test(probe413) || probe413.startsWith("ok");
  const deviations = Object.keys(r.websocket.deviations ?? {}).length + Object.keys(r.http.deviations ?? {}).length;
  return [
    `- **${crashes === 0 ? "Fixed" : "Open"}** (libs/events/src/config.ts, unit test in config.unit.test.ts): \`loadConfig\` threw a TypeError ("Cannot create property 'port' on string ''")
  when a section was not a mapping and a \`VIGIL_*\` variable overrode a field in it (\`gateway: ""\` with \`VIGIL_GATEWAY_PORT\`):
  \`vigil up\` exited 1 with a stack trace instead of 2 naming the field. This run: ${crashes} loader crashes.`,
    `- **${raceBad > 0 ? "Open" : "Not seen in this run"}** (packages/vigil/src/up.ts): a SIGTERM right after \`vigil up\` prints "running" could kill it
  unhandled (a race: it shows in some runs, not all). This run, SIGTERM on "running" ×${race.length}: ${race.join("; ")}.`,
    `- **${closed413 ? "Fixed" : "Open"}** (services/gateway): after a 413 the connection must close (\`Connection: close\`) rather than stay open with the body unread,
  or the next request on it fails. This run: ${probe413}.`,
    `- **${deviations > 0 ? "Open" : "None in this run"}** (services/gateway, docs/console-protocol.md): deviations from the documented behaviour, listed below (${deviations} kinds).`,
  ];
}
