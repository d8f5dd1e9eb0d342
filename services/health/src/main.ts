#!/usr/bin/env node
// Placeholder until this package is built.
export {};
