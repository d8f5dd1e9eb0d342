import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "@vigil/events";
import { backendOrder, cpuQuotaUs, groupOnDisk, oomKillCount, parseCgroupMounts, parseOwnCgroups, probeLimits, spawnThroughGroups, v1Settings, v2Settings } from "./cgroups.js";

/** This machine's mount table: a hybrid host, cgroup2 without controllers at /sys/fs/cgroup/unified. */
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
/** A Docker container without a cgroup namespace: co-mounted cpu,cpuacct, the container's group as the mounts' root. */
const CONTAINER_V1 = `700 690 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
701 690 0:41 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
702 690 0:42 /docker/abc /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids,clone_children`;
const UNIFIED = "25 18 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";

const limitsOf = (limits: object) => parseConfig({ workers: [{ name: "w", command: "x", limits }] }, { env: {} }).workers[0]!.limits!;

describe("worker limits: the pure parts of the cgroup backends", () => {
  it("reads the cgroup mounts of a mount table, v1 controllers by name (co-mounted ones each, named hierarchies not)", () => {
    const hybrid = parseCgroupMounts(HYBRID);
    assert.equal(hybrid.v2, "/sys/fs/cgroup/unified");
    assert.deepEqual(Object.keys(hybrid.v1).sort(), ["cpu", "cpuacct", "memory", "pids"]);
    assert.deepEqual(hybrid.v1.memory, { mount: "/sys/fs/cgroup/memory", root: "/" });
    const container = parseCgroupMounts(CONTAINER_V1);
    assert.equal(container.v2, undefined);
    assert.deepEqual(container.v1.cpu, { mount: "/sys/fs/cgroup/cpu,cpuacct", root: "/docker/abc" });
    assert.deepEqual(container.v1.cpuacct, container.v1.cpu);
    assert.equal(container.v1.clone_children, undefined);
    assert.equal(parseCgroupMounts(UNIFIED).v2, "/sys/fs/cgroup");
  });

  it("chooses which backend to try from the mount table: v2 first, v1 next, none without either", () => {
    assert.deepEqual(backendOrder(parseCgroupMounts(HYBRID)), ["v2", "v1"]);
    assert.deepEqual(backendOrder(parseCgroupMounts(UNIFIED)), ["v2"]);
    assert.deepEqual(backendOrder(parseCgroupMounts(CONTAINER_V1)), ["v1"]);
    assert.deepEqual(backendOrder(parseCgroupMounts("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw")), []);
    const none = probeLimits({ device: "t1", mountinfo: "", procSelfCgroup: "0::/" });
    assert.equal(none.ok, false);
    assert.match(!none.ok ? none.reason : "", /no cgroup filesystem is mounted/);
  });

  it("finds this process's groups in /proc/self/cgroup and on disk", () => {
    const own = parseOwnCgroups("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/3c6c\n2:cpu,cpuacct:/\n0::/\n");
    assert.deepEqual(own, { v2: "/", v1: { pids: "/", memory: "/process_api/3c6c", cpu: "/", cpuacct: "/" } });
    assert.equal(groupOnDisk("/sys/fs/cgroup/memory", "/", "/process_api/3c6c"), "/sys/fs/cgroup/memory/process_api/3c6c");
    assert.equal(groupOnDisk("/sys/fs/cgroup/cpu", "/", "/"), "/sys/fs/cgroup/cpu");
    assert.equal(groupOnDisk("/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc"), "/sys/fs/cgroup/memory");
    assert.equal(groupOnDisk("/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/sub"), "/sys/fs/cgroup/memory/sub");
    assert.equal(groupOnDisk("/sys/fs/cgroup/memory", "/docker/abc", "/docker/other"), undefined);
  });

  it("translates limits to v1 files: 256m → bytes, memsw opened first and closed to the limit, cpu → quota per 100 ms", () => {
    const limits = limitsOf({ memory: "256m", cpu: 0.2, pids: 64 });
    assert.equal(limits.memory, 268_435_456);
    assert.deepEqual(v1Settings(limits, { memswFile: true }), [
      ["memory", "memory.memsw.limit_in_bytes", "-1"],
      ["memory", "memory.limit_in_bytes", "268435456"],
      ["memory", "memory.memsw.limit_in_bytes", "268435456"],
      ["cpu", "cpu.cfs_period_us", "100000"],
      ["cpu", "cpu.cfs_quota_us", "20000"],
      ["pids", "pids.max", "64"],
    ]);
    assert.deepEqual(v1Settings(limitsOf({ pids: 8 }), { memswFile: false }), [
      ["memory", "memory.limit_in_bytes", "-1"],
      ["cpu", "cpu.cfs_period_us", "100000"],
      ["cpu", "cpu.cfs_quota_us", "-1"],
      ["pids", "pids.max", "8"],
    ]);
  });

  it("translates limits to v2 files, and cpu quotas never below the kernel's 1 ms", () => {
    assert.deepEqual(v2Settings(limitsOf({ memory: "64m", cpu: 1.5 }), { swapFile: true }), [
      ["cpu.max", "150000 100000"],
      ["memory.max", "67108864"],
      ["memory.swap.max", "0"],
      ["pids.max", "max"],
    ]);
    assert.equal(cpuQuotaUs(0.01), 1000);
    assert.equal(cpuQuotaUs(0.5), 50_000);
  });

  it("reads oom_kill from memory.oom_control, and knows when the kernel does not count it", () => {
    assert.equal(oomKillCount("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 3);
    assert.equal(oomKillCount("oom_kill_disable 0\nunder_oom 0\n"), undefined);
  });

  it("starts a limited worker through a shell that joins every group before exec", () => {
    assert.deepEqual(spawnThroughGroups(["/m/w/cgroup.procs", "/c/w/cgroup.procs"], "node", ["a b.js"]), {
      command: "/bin/sh",
      args: ["-c", 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"', "vigil-cgroup", "/m/w/cgroup.procs", "/c/w/cgroup.procs", "--", "node", "a b.js"],
    });
  });
});
