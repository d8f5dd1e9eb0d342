/**
 * Preloaded by the full-system recovery bench (BENCH_CPU_PROF_DIR, via NODE_OPTIONS=--import: Node 20
 * refuses --cpu-prof there) into every process of `vigil up`: a V8 CPU profile from start to exit,
 * written as <dir>/<script>-<pid>.cpuprofile (open it in Chrome DevTools or speedscope).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { basename, dirname, join } from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 250 });
  session.post("Profiler.start");
  process.on("exit", () => {
    // An in-process session answers synchronously: the profile is written before the process ends.
    session.post("Profiler.stop", (err, r) => {
      if (err || !r) return;
      const script = process.argv[1] ? `${basename(dirname(dirname(process.argv[1])))}-${basename(process.argv[1], ".js")}` : "node";
      writeFileSync(join(dir, `${script}-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
    });
  });
}
