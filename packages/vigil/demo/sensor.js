#!/usr/bin/env node
// Vigil's demo workload: a simulated temperature sensor that prints a reading every second.
// Kill it (kill -9 <pid>) and watch Vigil bring it back.
let t = 21 + Math.random() * 2;
let n = 0;
const timer = setInterval(() => {
  t += (Math.random() - 0.5) * 0.4;
  console.log(JSON.stringify({ sensor: process.env.VIGIL_WORKER ?? "sensor", seq: ++n, celsius: Number(t.toFixed(2)), at: new Date().toISOString() }));
}, 1000);
process.on("SIGTERM", () => {
  clearInterval(timer);
  console.log("sensor: SIGTERM, closing");
  process.exit(0);
});
