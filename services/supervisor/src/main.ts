#!/usr/bin/env node
import { runService } from "@vigil/events";
import { startSupervisor } from "./service.js";

void runService("supervisor", startSupervisor);
