import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  checkPromptSet,
  imageTurn,
  PAPER_PROMPTS,
  SCENEWORLD_DESCRIPTION_PROMPTS,
  SCENEWORLD_PROMPTS,
  sticPromptSet,
} from "../../../src/methods/stic/prompts.js";
import { DESCRIPTION_PROMPTS } from "../../../src/train/world-data.js";

const digest = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);

test("prompt snapshots: a change to a STIC prompt is deliberate (update the digest with it)", () => {
  assert.equal(digest(PAPER_PROMPTS), "143eac6d19d559aa");
  assert.equal(digest(SCENEWORLD_PROMPTS), "9f2b1281b1354c57");
});

test("the paper set: one step-by-step prompt, 8 plain prompts, 8 hallucination-inducing prompts", () => {
  checkPromptSet(PAPER_PROMPTS);
  assert.equal(PAPER_PROMPTS.plain.length, 8);
  assert.equal(PAPER_PROMPTS.hallucination.length, 8);
  assert.equal(new Set(PAPER_PROMPTS.plain).size, 8);
  assert.ok(PAPER_PROMPTS.detailed.split("\n").length >= 6, "the detailed prompt lists its steps");
  assert.ok(PAPER_PROMPTS.hallucination.every((h) => h.sampling === undefined));
  assert.ok(PAPER_PROMPTS.plain.includes(PAPER_PROMPTS.describe));
});

test("the sceneworld set only uses prompts the embedded base was trained on", () => {
  checkPromptSet(SCENEWORLD_PROMPTS);
  const trained = new Set<string>(DESCRIPTION_PROMPTS);
  assert.deepEqual(
    SCENEWORLD_DESCRIPTION_PROMPTS.map((p) => imageTurn(p)),
    [...DESCRIPTION_PROMPTS],
  );
  const used = [
    SCENEWORLD_PROMPTS.detailed,
    SCENEWORLD_PROMPTS.describe,
    ...SCENEWORLD_PROMPTS.plain,
    ...SCENEWORLD_PROMPTS.hallucination.map((h) => h.prompt),
  ];
  for (const p of used) assert.ok(trained.has(imageTurn(p)), p);
  // Hallucination comes from hot sampling, not from words the model does not know.
  assert.equal(SCENEWORLD_PROMPTS.hallucination.length, 8);
  for (const h of SCENEWORLD_PROMPTS.hallucination) assert.ok(h.sampling !== undefined && h.sampling.temperature > 1);
});

test("sets by id; bad sets are refused with the reason", () => {
  assert.equal(sticPromptSet("paper"), PAPER_PROMPTS);
  assert.equal(sticPromptSet("sceneworld"), SCENEWORLD_PROMPTS);
  assert.throws(() => sticPromptSet("coco"), /unknown STIC prompt set "coco" \(known: paper, sceneworld\)/);
  assert.throws(() => checkPromptSet({ ...PAPER_PROMPTS, plain: [] }), /no plain prompts/);
  assert.throws(() => checkPromptSet({ ...PAPER_PROMPTS, detailed: "<image>\nDescribe." }), /no <image> marker/);
  assert.throws(
    () => checkPromptSet({ ...PAPER_PROMPTS, hallucination: [{ prompt: "x", sampling: { temperature: -1 } }] }),
    /hallucination\[0\]\.sampling\.temperature/,
  );
  assert.equal(imageTurn("Describe.", 2), "<image>\n<image>\nDescribe.");
});
