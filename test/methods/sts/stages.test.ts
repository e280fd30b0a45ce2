// The sts-round stage end to end on the tiny world, a tiny random-weights VLM and a tiny
// random-weights CLIP-style scorer (the real runner, embedded backend and trainer): round 1
// selects concepts and writes label-plus-concept answers under bare questions, round 2 samples
// and keeps one answer per question (or the fallback), each mixed 1:1 with general data, trained
// and evaluated; a round 2 without its round-1 stage is refused.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { worldConceptLists } from "../../../src/methods/sts/concepts.js";
import type { ImageSelection } from "../../../src/methods/sts/selection.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { quietDeps, saveTinyScorer, tinyWorldStage } from "../stic/stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

const { dir, world, worldDir, base } = tinyWorldStage("sts-stages-", 320);
let scorer: string;
before(() => {
  scorer = saveTinyScorer(dir, base);
});

function recipe(name: string, rounds: number[]): string {
  const path = join(dir, `${name}.yaml`);
  const stage = (n: number) => `  - name: sts-round${n}
    type: sts-round
    round: ${n}
${n > 1 ? "    conceptsFrom: sts-round1\n" : ""}    images: 2
    scorer: ${scorer}
    describe: { prompts: 2, samples: 2, maxTokens: 8 }
    sampling: { samples: 3, maxTokens: 8 }
    chunkSize: 2
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`;
  writeFileSync(
    path,
    `name: sts-test
seed: 0
threads: 1
world: { config: ${world}, dir: ${worldDir} }
model: ${base}
eval: { benches: [species], limit: 1, batchSize: 2 }
stages:
${rounds.map(stage).join("")}`,
  );
  return path;
}

const data = (run: string, stage: string) => join(run, "stages", stage, "data");

test("rounds 1 and 2: selected concepts, bare questions, labels named, 1:1 mix, trained, evaluated", async () => {
  const run = join(dir, "two");
  const lines: string[] = [];
  await runRecipe({ recipePath: recipe("two", [1, 2]), out: run, deps: quietDeps(lines) });

  // Round 1: each image's class concepts scored, at least 3 kept (the classes have 4 to 6).
  const selection = JSON.parse(
    readFileSync(join(data(run, "sts-round1"), "selected.json"), "utf8"),
  ) as ImageSelection[];
  assert.equal(selection.length, 2);
  const lists = worldConceptLists();
  for (const s of selection) {
    assert.deepEqual(
      s.scores.map((c) => c.concept),
      lists.get(s.label),
    );
    assert.ok(s.selected.length >= 3);
    for (const c of s.selected) assert.ok(lists.get(s.label)?.includes(c.concept));
  }
  const r1 = readRecords(join(data(run, "sts-round1"), "sts.jsonl"), "sft", { root: data(run, "sts-round1") });
  assert.equal(r1.length, 6, "2 images x 3 question types");
  for (const r of r1) {
    const label = selection.find((s) => s.id === r.provenance.source)?.label as string;
    assert.match(r.messages[0].content, /^<image>\n[^\n]+$/, "the bare question");
    assert.ok(!r.messages[0].content.includes(label), "no label in the question");
    assert.ok(!r.messages[0].content.includes("visual features:"));
    assert.ok(r.messages[1].content.includes(label), "the answer names the label");
    assert.equal(r.provenance.model, "world:label-concept-writer");
  }
  const train1 = readRecords(join(data(run, "sts-round1"), "train.jsonl"), "sft", { root: data(run, "sts-round1") });
  assert.equal(train1.length, 12, "1:1 with general records");
  assert.equal(train1.filter((r) => r.id.startsWith("general/")).length, 6);

  // Round 2: one record per image and type, the sampled answer naming the label or the fallback.
  const r2 = readRecords(join(data(run, "sts-round2"), "sts.jsonl"), "sft", { root: data(run, "sts-round2") });
  assert.equal(r2.length, 6);
  for (const r of r2) {
    const label = selection.find((s) => s.id === r.provenance.source)?.label as string;
    const reason = r.provenance.reasons?.[1] ?? "";
    if (reason === "fallback") assert.equal(r.messages[1].content, `This is an image of ${label}.`);
    else {
      assert.match(reason, /^sample:[0-2]$/);
      assert.ok(r.messages[1].content.toLowerCase().includes(label));
      assert.equal(typeof r.provenance.scores?.infonce, "number");
    }
  }
  assert.ok(lines.some((l) => /sts-round2: round 2: 6 answers \(\d fallbacks\)/.test(l)));
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.rounds.map((r) => r.name),
    ["base", "sts-round1", "sts-round2"],
  );
  assert.ok("concept_precision" in report.rounds[2].metrics.species);
});

test("a later round without its round-1 stage is refused naming the field", async () => {
  await assert.rejects(
    runRecipe({ recipePath: recipe("alone", [2]).replace("", ""), out: join(dir, "alone"), deps: quietDeps() }),
    /selected\.json: missing; run the round-1 STS stage \(conceptsFrom\) first/,
  );
});
