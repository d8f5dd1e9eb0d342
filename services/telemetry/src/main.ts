#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startTelemetry } from "./service.js";

void runService("telemetry", startTelemetry);
