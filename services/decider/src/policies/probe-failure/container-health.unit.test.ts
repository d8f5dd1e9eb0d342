import { describe, it } from "node:test";
import { decision, scenario } from "../../core/given.test-helper.js";

// An `unhealthy` Docker HEALTHCHECK is the container's probe at its failure threshold (issue 14).
const { at, given } = scenario({ containers: [{ name: "plc", image: "plc:1" }] });
const started = at(0, "obs.worker.started", { worker: "plc", pid: 50, command: "docker plc:1", containerId: "abc123def456789" });
const health = (ms: number, status: "starting" | "healthy" | "unhealthy") => at(ms, "obs.container.health", { worker: "plc", containerId: "abc123def456789", status });
const reason = "Docker HEALTHCHECK of container plc (abc123def456) reports unhealthy (its retries reached)";

describe("probe policy: container HEALTHCHECK", () => {
  it("given a running container, when Docker reports it unhealthy, then it is restarted in a probe incident", () => {
    given(started)
      .when(health(1000, "unhealthy"))
      .then([
        decision("dec.incident.opened", { worker: "plc", reason, policy: "probe" }, "#a"),
        decision("dec.remediation.decided", { worker: "plc", policy: "probe", action: "restart", attempt: 0, delayMs: 0, reason }, "#a"),
        decision("cmd.worker.restart", { worker: "plc", delayMs: 0, reason, requestedBy: "decider" }, "#a"),
      ]);
  });

  it("given the restart, when the new container is healthy, then the incident is resolved", () => {
    const h = [started, health(1000, "unhealthy"), at(1100, "out.worker.restarted", { worker: "plc", command: "c1", requestedBy: "decider", pid: 51 })];
    given(...h)
      .when(health(5000, "healthy"))
      .then([decision("dec.incident.resolved", { worker: "plc", reason: "Docker HEALTHCHECK of container plc passes again" }, "#a")]);
  });

  it("ignores starting and healthy reports without an incident, and containers Vigil does not manage", () => {
    given(started).when(health(1000, "starting")).thenNothing();
    given(started).when(health(1000, "healthy")).thenNothing();
    given().when(at(1000, "obs.container.health", { worker: "other", containerId: "x", status: "unhealthy" })).thenNothing();
  });
});
