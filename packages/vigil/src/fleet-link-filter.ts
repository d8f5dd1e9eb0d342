/**
 * What the leaf link may carry (docs/fleet.md, "What crosses the link"). nats-server 2.9.10 offers a
 * remote only `deny_imports` (hub → device) and `deny_exports` (device → hub): no allow lists, and the
 * hub's `leafnodes.authorization` users take no `permissions` (the server refuses the field). So the
 * allow-list is expressed as: interest (only what the device subscribes to is sent down: its own
 * `fleet.remote.<device>`, the deliveries of its own source), plus these denies of everything else a
 * subject can name — Vigil's events, the deployment subjects as plain messages, and every JetStream
 * API call that writes, deletes or reads beyond what sourcing needs, on both sides.
 */

/** JetStream API calls sourcing never makes: changing or deleting streams, messages, durables, KV and object stores. */
const JS_WRITES = [
  "STREAM.CREATE.>",
  "STREAM.UPDATE.>",
  "STREAM.DELETE.>",
  "STREAM.PURGE.>",
  "STREAM.MSG.DELETE.>",
  "STREAM.SNAPSHOT.>",
  "STREAM.RESTORE.>",
  "STREAM.PEER.>",
  "STREAM.LEADER.>",
  "CONSUMER.DURABLE.CREATE.>",
  "CONSUMER.DELETE.>",
  "META.>",
  "SERVER.>",
  "ACCOUNT.>",
  "$KV.>",
  "$OBJ.>",
];

/** The hub's streams a device has no business reading: every device's events, the rollouts, other devices' deployments one by one. */
const HUB_READS = ["STREAM.MSG.GET.>", "DIRECT.>", "CONSUMER.CREATE.VIGIL_FLEET", "CONSUMER.CREATE.VIGIL_FLEET.>", "CONSUMER.CREATE.KV_VIGIL_ROLLOUTS", "CONSUMER.CREATE.KV_VIGIL_ROLLOUTS.>"];

export interface LinkFilter {
  /** Subjects the hub may not send down to the device. */
  denyImports: string[];
  /** Subjects the device may not send up to the hub. */
  denyExports: string[];
}

export function leafLinkFilter(deviceDomain: string, hubDomain: string): LinkFilter {
  const api = (domain: string, calls: string[]) => calls.map((c) => `$JS.${domain}.API.${c}`);
  return {
    // vigil.>: each device's own record; deploy.>: deployments arrive only through the source, never as messages.
    denyImports: ["vigil.>", "deploy.>", ...api(deviceDomain, JS_WRITES)],
    // fleet.>: remote commands only ever come down (replies go to the requester's inbox).
    denyExports: ["vigil.>", "deploy.>", "fleet.>", ...api(hubDomain, [...JS_WRITES, ...HUB_READS])],
  };
}
