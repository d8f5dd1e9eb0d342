#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startDecider } from "./service.js";

// VIGIL_DEADLETTER_WINDOW=1 brings back the old one-awaited-dead-letter-at-a-time path: the baseline
// of bench/src/decider.bench.ts. Unset (what vigil up runs): the windowed default.
const window = Number(process.env.VIGIL_DEADLETTER_WINDOW);
void runService("decider", (ctx) => startDecider(ctx, Number.isInteger(window) && window >= 1 ? { deadLetterWindow: window } : {}));
