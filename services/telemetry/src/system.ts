import { statfs } from "node:fs/promises";
import { cpus, freemem, loadavg, totalmem, uptime } from "node:os";

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle;
  }
  return { idle, total };
}

/** Device figures for the heartbeat: CPU busy % since the previous sample, memory, disk of `diskPath`. */
export function systemSampler(diskPath: string) {
  let prev = cpuTimes();
  return async () => {
    const now = cpuTimes();
    const dTotal = now.total - prev.total;
    const percent = dTotal > 0 ? Math.round((1 - (now.idle - prev.idle) / dTotal) * 1000) / 10 : 0;
    prev = now;
    const disk = await statfs(diskPath).then(
      (s) => ({ path: diskPath, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize }),
      () => undefined,
    );
    return {
      hostUptimeS: Math.round(uptime()),
      cpu: { cores: Math.max(1, cpus().length), load1: Math.round((loadavg()[0] ?? 0) * 100) / 100, percent: Math.max(0, percent) },
      memory: { totalBytes: totalmem(), freeBytes: freemem(), rssBytes: process.memoryUsage.rss() },
      ...(disk ? { disk } : {}),
    };
  };
}
