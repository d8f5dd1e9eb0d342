import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { choiceOption, integerOption, optionText, positiveNumber } from "./options.js";

const src = (argv: string[], env: NodeJS.ProcessEnv = {}) => ({ argv: ["node", "bench.js", ...argv], env });

describe("bench options", () => {
  it("reads --name value and --name=value, the command line before the environment", () => {
    assert.equal(optionText("events", "E", src(["--events", "5"], { E: "7" })), "5");
    assert.equal(optionText("events", "E", src(["--events=6"], { E: "7" })), "6");
    assert.equal(optionText("events", "E", src([], { E: "7" })), "7");
    assert.equal(optionText("events", "E", src(["--eventsx", "1"])), undefined);
  });

  it("falls back to the default when unset or empty", () => {
    assert.equal(integerOption("events", "E", 100, 1, src([], { E: "" })), 100);
    assert.equal(integerOption("events", "E", 100, 1, src(["--events"])), 100, "a flag without a value");
    assert.equal(positiveNumber("minutes", undefined, 10, src([])), 10);
  });

  it("checks the value and names the option and its variable", () => {
    assert.equal(positiveNumber("minutes", "M", 10, src(["--minutes", "0.5"])), 0.5);
    assert.throws(() => positiveNumber("minutes", "M", 10, src(["--minutes", "0"])), /--minutes \(or M\) must be a positive number, got "0"/);
    assert.throws(() => integerOption("events", "E", 1, 1, src(["--events", "1.5"])), /--events \(or E\) must be an integer ≥ 1, got "1.5"/);
    assert.equal(integerOption("warmup", "W", 5, 0, src(["--warmup=0"])), 0);
    assert.throws(() => integerOption("warmup", undefined, 5, 0, src(["--warmup", "-1"])), /^Error: --warmup must be an integer ≥ 0, got "-1"$/);
  });

  it("accepts only the listed words for a choice", () => {
    assert.equal(choiceOption("bus", "B", ["embedded", "external"], "embedded", src([])), "embedded");
    assert.equal(choiceOption("bus", "B", ["embedded", "external"], "embedded", src([], { B: "external" })), "external");
    assert.throws(() => choiceOption("bus", "B", ["embedded", "external"], "embedded", src(["--bus", "x"])), /--bus \(or B\) must be embedded or external, got "x"/);
  });
});
