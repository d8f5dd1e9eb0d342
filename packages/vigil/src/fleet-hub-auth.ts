import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BusPermissions } from "@vigil/events";
import { authorizationBlock, type BusUser } from "./bus-auth.js";

/**
 * Per-device users on the hub (docs/fleet.md, "One user per device"). The leaf link of each device
 * authenticates as its own hub user, and the hub applies that user's permissions to the link: for a
 * leaf connection `publish` is what the device may send up and `subscribe` what the hub may send down
 * (*tested* on 2.9.10). So a device can only create the consumer of its own deployment subject, answer
 * requests for its own domain and remote-command subject, and deliver its own events — never read
 * another device's deployment or publish as another device. The device-side deny lists
 * (fleet-link-filter.ts) stay as the second wall.
 */

export const OPERATOR_USER = "operator";
/** The hub's stream of signed deployments (deploy-agent.ts re-exports the same name). */
const DEPLOY_STREAM = "VIGIL_DEPLOY";

/** Where the hub's source of a device's VIGIL delivers (fleet-core.ts): under the device's name, so only that device may publish there. */
export const uplinkDeliverPrefix = (device: string) => `uplink.${device}`;
/** Where the device's source of its deployment subject is delivered: only that device may receive it. */
export const downlinkDeliverPrefix = (device: string) => `downlink.${device}`;

/**
 * Replies from the hub to a request made on the device (its services make none; a tool asking the hub's
 * JetStream API through the link does) come back only under this inbox prefix: `_INBOX.>` would let a
 * device receive every reply on the hub, other devices' answers to the operator included.
 */
export const deviceInboxPrefix = (device: string) => `_INBOX_${device}`;

/** A device's rights on the hub, seen from the hub: publish = device → hub, subscribe = hub → device. */
export function deviceHubPermissions(device: string, hubDomain: string): BusPermissions {
  const hubApi = `$JS.${hubDomain}.API`;
  return {
    publish: {
      allow: [
        // Its own source's consumer only: 2.9.10 names the filter in the subject and refuses a body whose filter differs (10131).
        `${hubApi}.CONSUMER.CREATE.${DEPLOY_STREAM}.*.deploy.${device}`,
        `${hubApi}.STREAM.INFO.${DEPLOY_STREAM}`,
        `$JS.FC.${DEPLOY_STREAM}.>`,
        // Replies to the hub's calls into the device's domain, its events for VIGIL_FLEET, replies to remote commands.
        "$JSC.R.>",
        `${uplinkDeliverPrefix(device)}.>`,
        "_INBOX.>",
      ],
      deny: [],
    },
    subscribe: {
      allow: [
        "$JSC.R.>",
        `${downlinkDeliverPrefix(device)}.>`,
        `${deviceInboxPrefix(device)}.>`,
        `fleet.remote.${device}`,
        `$JS.${device}.API.>`,
        "$JS.FC.VIGIL.>",
        // The leaf connection's loop detection subject.
        "$LDS.>",
      ],
      deny: [],
    },
  };
}

/** The hub's users: the operator (every right: the CLI, fleet add, deploy) and one per device with only its own subjects. */
export function hubUsers(devices: readonly string[], hubDomain: string, passwordOf: (user: string) => string = () => randomBytes(24).toString("base64url")): BusUser[] {
  return [{ user: OPERATOR_USER, pass: passwordOf(OPERATOR_USER) }, ...devices.map((d) => ({ user: d, pass: passwordOf(d), permissions: deviceHubPermissions(d, hubDomain) }))];
}

/** The hub config's `authorization` block; the hub's `leafnodes {}` must then have no `authorization` of its own, so the links log in as these users. */
export const hubAuthorizationBlock = (users: BusUser[]): string => authorizationBlock(users);

/**
 * `vigil fleet hub-auth <device>… --out DIR`: writes DIR/hub-users.conf (include it in the hub's
 * config) and DIR/<user>.json per user (0600). An existing user's password is kept, so adding a
 * device changes no other device's credentials.
 */
export function writeHubAuth(devices: readonly string[], hubDomain: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const fileOf = (user: string) => join(outDir, `${user}.json`);
  const kept = (user: string): string | undefined => {
    if (!existsSync(fileOf(user))) return undefined;
    const pass = (JSON.parse(readFileSync(fileOf(user), "utf8")) as { pass?: unknown }).pass;
    return typeof pass === "string" && pass ? pass : undefined;
  };
  const users = hubUsers(devices, hubDomain, (u) => kept(u) ?? randomBytes(24).toString("base64url"));
  const written: string[] = [];
  const write = (file: string, text: string) => {
    writeFileSync(file, text, { mode: 0o600 });
    chmodSync(file, 0o600);
    written.push(file);
  };
  write(join(outDir, "hub-users.conf"), `# Written by 'vigil fleet hub-auth'; the hub's leafnodes {} must have no authorization block.\n${hubAuthorizationBlock(users)}\n`);
  for (const u of users) write(fileOf(u.user), `${JSON.stringify({ user: u.user, pass: u.pass })}\n`);
  return written;
}
