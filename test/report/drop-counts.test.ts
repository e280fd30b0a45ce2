// The report's drop counts: drops.jsonl by reason, and each step's counts without the ones the
// step itself wrote to drops.jsonl (listed once, not twice).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { StageFolder } from "../../src/report/run-folder.js";
import { dropCounts } from "../../src/report/stage-examples.js";
import { cleanup, tempDir } from "../data/fixtures.js";

after(cleanup);

test("a generation step's drops already in drops.jsonl are not listed again; a filter's are", () => {
  const dir = tempDir("drop-counts");
  const drop = (itemId: string, reason: string) => JSON.stringify({ itemId, reason });
  writeFileSync(
    join(dir, "drops.jsonl"),
    `${[drop("a", "identical"), drop("b", "identical"), drop("c", "empty")].join("\n")}\n`,
  );
  const stage: StageFolder = {
    name: "s",
    type: "t",
    seconds: 1,
    training: [],
    dataDir: dir,
    steps: [
      // The generation step: its counts are the file's.
      { step: "pairs", seconds: 1, result: { records: 10, drops: { identical: 2, empty: 1 } } },
      // A filter: its drops are in no file.
      { step: "self-check", seconds: 1, result: { kept: 4, dropped: { "chosen-not-surer": 6 } } },
      // A step whose count of a reason differs from the file's keeps that reason.
      { step: "other", seconds: 1, result: { drops: { identical: 5 } } },
    ],
  };
  assert.deepEqual(dropCounts(dir, stage), [
    { source: "drops.jsonl", counts: { identical: 2, empty: 1 } },
    { source: "step self-check", counts: { "chosen-not-surer": 6 } },
    { source: "step other", counts: { identical: 5 } },
  ]);
});
