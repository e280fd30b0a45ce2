// The csr-iteration stage end to end on a tiny world, a tiny random-weights VLM and a tiny
// random-weights CLIP-style scorer (the real embedded backend, world benches and trainer): two
// iterations chained, pairs with their relevance per side, relevance.json, DPO, each model
// evaluated; a rerun redoes nothing; a missing scorer is refused naming the field.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import type { RelevanceSummary } from "../../../src/methods/csr/records.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { runRecipe } from "../../../src/run/runner.js";
import { quietDeps, saveTinyScorer, tinyWorldStage } from "../stic/stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

const { dir, world, worldDir, base } = tinyWorldStage("csr-stages-");
let scorer: string;
before(() => {
  scorer = saveTinyScorer(dir, base);
});

function recipe(name: string, scorerPath: string): string {
  const path = join(dir, `${name}.yaml`);
  // A random-weights model rarely writes '.': sentences end at 4 tokens, answers at 60 characters.
  const stage = (n: number) => `  - name: csr-iter${n}
    type: csr-iteration
    images: 3
    scorer: ${scorerPath}
    proposal: { beams: 2, groups: 2, returned: 2, diversityPenalty: 3.0 }
    maxSentenceTokens: 4
    maxCharacters: 60
    chunkSize: 2
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`;
  writeFileSync(
    path,
    `name: csr-test
seed: 0
threads: 1
world: { config: ${world}, dir: ${worldDir} }
model: ${base}
eval: { benches: [pope-random], limit: 3, batchSize: 2 }
stages:
${stage(1)}${stage(2)}`,
  );
  return path;
}

test("two iterations: pairs, relevance per side, DPO, each model evaluated; a rerun redoes nothing", async () => {
  const out = join(dir, "run");
  const { report } = await runRecipe({ recipePath: recipe("csr", scorer), out, deps: quietDeps() });
  assert.deepEqual(
    report.rounds.map((r) => r.name),
    ["base", "csr-iter1", "csr-iter2"],
  );
  for (const stage of ["csr-iter1", "csr-iter2"]) {
    const data = join(out, "stages", stage, "data");
    const pairs = readRecords(join(data, "pairs.jsonl"), "preference", { root: data });
    const drops = existsSync(join(data, "drops.jsonl")) ? readFileSync(join(data, "drops.jsonl"), "utf8").trim() : "";
    assert.equal(pairs.length + (drops === "" ? 0 : drops.split("\n").length), 3, "every image gives a pair or a drop");
    assert.ok(pairs.length >= 1);
    for (const p of pairs) {
      assert.equal(p.provenance.method, "csr");
      assert.notEqual(p.chosen, p.rejected);
      const s = p.provenance.scores ?? {};
      assert.ok(s.chosen > s.rejected, "chosen is the higher-scored path");
      assert.ok(s.chosen_relevance >= 0 && s.rejected_relevance >= 0, "relevance is clamped at 0");
    }
    const summary = JSON.parse(readFileSync(join(data, "relevance.json"), "utf8")) as RelevanceSummary;
    assert.equal(summary.pairs, pairs.length);
    const mean = pairs.reduce((a, p) => a + (p.provenance.scores?.chosen_relevance ?? 0), 0) / pairs.length;
    assert.ok(Math.abs(summary.chosenRelevance - mean) < 1e-9);
    assert.ok(existsSync(join(out, "stages", stage, "model", "model.safetensors")));
  }
  // Iteration 2 started from iteration 1's model.
  const log = readFileSync(join(out, "run.log"), "utf8");
  assert.match(log, /stage csr-iter2 \(csr-iteration, seed \d+\): from .*csr-iter1[/\\]model/);
  const before = readFileSync(join(out, "stages", "csr-iter2", "data", "pairs.jsonl"), "utf8");
  await runRecipe({ recipePath: recipe("csr", scorer), out, deps: quietDeps() });
  assert.equal(readFileSync(join(out, "stages", "csr-iter2", "data", "pairs.jsonl"), "utf8"), before);
});

test("a scorer folder without a checkpoint is refused, naming the field", async () => {
  await assert.rejects(
    runRecipe({ recipePath: recipe("bad", join(dir, "nowhere")), out: join(dir, "bad-run"), deps: quietDeps() }),
    /csr-iter1\.scorer: .*nowhere holds no scorer checkpoint/,
  );
});
