import { alertSecret, derivedId, postWebhook, webhookHeaders } from "@vigil/events";
import { randomUUID } from "node:crypto";
import { runningSystem } from "./connect.js";
import { UsageError } from "./embedded-nats.js";

/**
 * `vigil alerts test [--name <target>]`: one signed test alert (type io.vigil.alert.test) to each
 * target in alerts.targets, straight from the CLI with the same body and signature the alerts
 * service uses (libs/events webhook.ts), so a receiver can be checked before an incident needs it.
 */
export async function alertsCommand(args: string[], o: { config?: string; dataDir?: string; name?: string; json: boolean }): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "test" || rest.length) throw new UsageError("usage: vigil alerts test [--name <target>]");
  const { config } = runningSystem(o);
  const targets = config.alerts.targets.filter((t) => !o.name || t.name === o.name);
  if (!targets.length) throw new UsageError(o.name ? `no alert target named "${o.name}" (alerts.targets: ${config.alerts.targets.map((t) => t.name).join(", ") || "none"})` : "no alert targets configured (alerts.targets in the config)");
  let failed = 0;
  for (const t of targets) {
    const id = randomUUID();
    const body = JSON.stringify({
      specversion: "1.0",
      id,
      source: `vigil/${config.device}/cli`,
      type: "io.vigil.alert.test",
      time: new Date().toISOString(),
      subject: t.name,
      datacontenttype: "application/json",
      data: { device: config.device, transition: "test", reason: "vigil alerts test: a test alert, nothing is wrong", target: t.name },
    });
    const r = await postWebhook(t.url, body, webhookHeaders(alertSecret(t, config.configDir), body, derivedId(id, t.name, "alert-delivery")), t.timeoutMs);
    if (!r.ok) failed++;
    process.stdout.write(o.json ? `${JSON.stringify({ target: t.name, url: t.url, ...r })}\n` : `${t.name} (${t.url}): ${r.ok ? `delivered (HTTP ${r.status})` : `FAILED: ${r.error}`}\n`);
  }
  return failed ? 1 : 0;
}
