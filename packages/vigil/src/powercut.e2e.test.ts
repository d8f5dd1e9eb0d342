import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runPowerCuts } from "./powercut-run.js";

// Fails (never skips) when LazyFS, fusermount3 or /dev/fuse are missing: requireLazyFs names what.
// VIGIL_POWERCUT_BASELINE=1 runs today's 2.9 behaviour (no barrier): the same checks then fail.
const cuts = Number(process.env.VIGIL_POWERCUT_CUTS ?? 3);
const baseline = process.env.VIGIL_POWERCUT_BASELINE === "1";

describe("power cuts under vigil up (data dir on LazyFS)", () => {
  it(`loses nothing acknowledged, runs no command twice, delivers a cloud outage's backlog and starts by itself after ${cuts} cuts`, { timeout: 900_000 }, async () => {
    const r = await runPowerCuts({ cuts, rate: 300, baseline, say: (m) => process.stderr.write(`powercut: ${m}\n`) });
    process.stderr.write(`powercut: ${JSON.stringify({ ...r, lostIds: r.lostIds.slice(0, 5) })}\n`);
    assert.ok(r.acked > 0, "the load saw acknowledgements");
    assert.ok(r.startedEachTime, "vigil up started by itself after every cut");
    assert.equal(r.ackedLost, 0, `${r.ackedLost} of ${r.acked} acknowledged events are not in the stream after ${cuts} cuts (e.g. ${r.lostIds.slice(0, 3).join(", ")})`);
    assert.equal(r.duplicates, 0, `${r.duplicates} acknowledged events are in the stream more than once`);
    assert.ok(r.commandsWithOutcome > 0, "the crashing worker's restart commands have outcomes in the stream");
    assert.equal(r.redecidedWithNewIds, 0, `${r.redecidedWithNewIds} decisions were stored again under a new id (re-deciding after a cut must give the same ids)`);
    assert.equal(r.commandsRunTwice, 0, `${r.commandsRunTwice} commands have more than one outcome (ran twice)`);
    assert.ok(r.cloudOutageCuts >= 1 && r.backlog > 0, `the cloud was away for ${r.cloudOutageCuts} cuts and a backlog of ${r.backlog} acked events built up`);
    assert.equal(r.backlogMissingAtCloud, 0, `${r.backlogMissingAtCloud} of the ${r.backlog} acked events of the cloud outage never reached the cloud`);
    assert.equal(r.ackedMissingAtCloud, 0, `${r.ackedMissingAtCloud} of ${r.acked} acked events never reached the cloud`);
  });
});
