#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startGateway } from "./service.js";

void runService("gateway", (ctx) => startGateway(ctx));
