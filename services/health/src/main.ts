#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startHealth } from "./service.js";

void runService("health", (ctx) => startHealth(ctx));
