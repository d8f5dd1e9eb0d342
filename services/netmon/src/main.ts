#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startNetmon } from "./service.js";

void runService("netmon", (ctx) => startNetmon(ctx));
