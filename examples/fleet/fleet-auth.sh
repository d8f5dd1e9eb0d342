#!/bin/sh
# The fleet-auth service of compose.fleet.yaml (runs as root, at every `up`): one hub user per device.
#   1. `vigil fleet hub-auth <device>… --out $FLEET_AUTH_DIR`: hub-users.conf (the hub includes it),
#      operator.json (fleet-init logs in with it) and <device>.json. Run again, it keeps every password.
#   2. Each device's config: $EXAMPLES_DIR/<device>.yaml with fleet.user / fleet.pass from <device>.json,
#      written to $DEVICES_DIR/<device>/vigil.yaml (that device's data volume; 0600, handed to the
#      image's user node), so a device's container holds its own hub password and no other.
# Run from the repo's root (the image's /app): it uses packages/vigil/dist and the yaml package there.
# The folders default to the compose mounts; examples-fleet.e2e.test.ts runs it with temp folders.
set -eu
EXAMPLES_DIR=${EXAMPLES_DIR:-/examples/fleet}
FLEET_AUTH_DIR=${FLEET_AUTH_DIR:-/fleet-auth}
DEVICES_DIR=${DEVICES_DIR:-/devices}
[ "$#" -gt 0 ] || { echo "fleet-auth.sh: name the devices" >&2; exit 2; }
node packages/vigil/dist/main.js fleet hub-auth "$@" --out "$FLEET_AUTH_DIR"
for device in "$@"; do
  mkdir -p "$DEVICES_DIR/$device"
  node -e '
    const fs = require("fs"), YAML = require("yaml");
    const [device, examples, auth, devices] = process.argv.slice(1);
    const config = YAML.parse(fs.readFileSync(`${examples}/${device}.yaml`, "utf8"));
    const { user, pass } = JSON.parse(fs.readFileSync(`${auth}/${device}.json`, "utf8"));
    config.fleet = { ...config.fleet, user, pass };
    fs.writeFileSync(`${devices}/${device}/vigil.yaml`, YAML.stringify(config), { mode: 0o600 });
  ' "$device" "$EXAMPLES_DIR" "$FLEET_AUTH_DIR" "$DEVICES_DIR"
  # In the image the devices run as node; elsewhere (a test on the host) the files stay the caller's.
  if [ "$(id -u)" = 0 ] && id node >/dev/null 2>&1; then chown -R node:node "$DEVICES_DIR/$device"; fi
  echo "fleet-auth.sh: $DEVICES_DIR/$device/vigil.yaml logs in to the hub as $device"
done
