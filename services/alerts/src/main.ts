#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startAlerts } from "./service.js";

void runService("alerts", (ctx) => startAlerts(ctx));
