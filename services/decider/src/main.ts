#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startDecider } from "./service.js";

void runService("decider", (ctx) => startDecider(ctx));
