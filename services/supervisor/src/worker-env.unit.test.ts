import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { workerEnv } from "./worker-env.js";

/** What a supervisor started by `vigil up` holds: its bus user, the telemetry file, the user's shell. */
const SUPERVISOR_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/edge",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  LC_TIME: "de_DE.UTF-8",
  TZ: "Europe/Berlin",
  USER: "edge",
  SHELL: "/bin/bash",
  AWS_SECRET_ACCESS_KEY: "not-for-workers",
  SENSOR_PORT: "/dev/ttyUSB1",
  VIGIL_NATS_URL: "nats://127.0.0.1:4222",
  VIGIL_NATS_USER: "supervisor",
  VIGIL_NATS_PASS: "p4ss",
  VIGIL_NATS_INBOX_PREFIX: "_INBOX_supervisor",
  VIGIL_TELEMETRY_SECRET: "0123456789abcdef0123",
  VIGIL_CONFIG: "/etc/vigil/vigil.yaml",
  VIGIL_WORKER: "someone-else",
};

describe("workerEnv: the environment a process worker starts with", () => {
  it("given the supervisor's environment and a worker with no env settings, then only PATH, HOME, LANG, LC_*, TZ and VIGIL_WORKER", () => {
    assert.deepEqual(workerEnv(SUPERVISOR_ENV, { name: "sensor", env: {}, inheritEnv: [] }), {
      PATH: "/usr/bin:/bin",
      HOME: "/home/edge",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      LC_TIME: "de_DE.UTF-8",
      TZ: "Europe/Berlin",
      VIGIL_WORKER: "sensor",
    });
  });

  it("given declared env and inheritEnv, then those are added (declared wins over inherited), and VIGIL_* never passes", () => {
    const env = workerEnv(SUPERVISOR_ENV, {
      name: "sensor",
      env: { MODE: "prod", SENSOR_PORT: "/dev/ttyUSB0", VIGIL_NATS_PASS: "smuggled" },
      // A VIGIL_* name here is refused by the config; should one get this far, it is still dropped.
      inheritEnv: ["SENSOR_PORT", "USER", "NOT_SET", "VIGIL_NATS_PASS"],
    });
    assert.deepEqual(env, {
      PATH: "/usr/bin:/bin",
      HOME: "/home/edge",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      LC_TIME: "de_DE.UTF-8",
      TZ: "Europe/Berlin",
      USER: "edge",
      SENSOR_PORT: "/dev/ttyUSB0",
      MODE: "prod",
      VIGIL_WORKER: "sensor",
    });
  });

  it("given a parent without the base variables, then they are simply absent (nothing is invented)", () => {
    assert.deepEqual(workerEnv({ VIGIL_NATS_PASS: "x" }, { name: "w", env: {}, inheritEnv: [] }), { VIGIL_WORKER: "w" });
  });
});
