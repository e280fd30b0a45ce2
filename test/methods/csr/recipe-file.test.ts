// recipes/csr.yaml, as shipped: it and each of its profiles resolve against the registered stage
// kinds; three iterations of one kind with equal settings; the released code's values where the
// recipe claims them; the profiles change what they name and nothing else. recipes/csr-endpoint.yaml:
// three sampling iterations over an endpoint, which the run's start checks let through.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import type { csrIteration } from "../../../src/methods/csr/stages.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { checkStagesOverEndpoint, endpointOf, runNeeds } from "../../../src/run/model-source.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import type { StageConfig } from "../../../src/run/stage-kind.js";

registerBuiltinMethods();
const root = join(import.meta.dirname, "../../..");
const path = join(root, "recipes/csr.yaml");
const profiles = Object.keys((parseYaml(readFileSync(path, "utf8")) as { profiles: object }).profiles);
type Csr = StageConfig & z.output<typeof csrIteration.schema>;
const stagesOf = (profile?: string) =>
  loadRecipe(path, profile === undefined ? {} : { profile }).recipe.stages as Csr[];

test("three iterations of csr-iteration, alike, under every profile", () => {
  assert.deepEqual(profiles, ["quick", "no-calibration", "released-code", "sampling", "images-32", "validation"]);
  for (const profile of [undefined, ...profiles]) {
    const stages = stagesOf(profile);
    assert.deepEqual(
      stages.map((s) => [s.name, s.type]),
      [
        ["csr-iter1", "csr-iteration"],
        ["csr-iter2", "csr-iteration"],
        ["csr-iter3", "csr-iteration"],
      ],
    );
    const { name: _, ...first } = stages[0];
    for (const s of stages.slice(1)) assert.deepEqual({ ...s, name: undefined }, { ...first, name: undefined });
  }
});

test("the released code's search settings and the paper's lambda and beta", () => {
  const [s] = stagesOf();
  assert.deepEqual(
    [s.proposal.kind, s.proposal.beams, s.proposal.groups, s.proposal.returned, s.proposal.diversityPenalty],
    ["diverse-beam", 5, 5, 5, 3],
  );
  assert.deepEqual([s.maxSentenceTokens, s.maxCharacters, s.stopMark], [70, 1024, "."]);
  assert.deepEqual(s.keep, { best: 1, worst: 2 });
  assert.deepEqual(s.reward, { lambda: 0.9, mix: "paper" });
  assert.equal(s.selectBy, "reward");
  assert.equal(s.dpo.beta, 0.1);
  assert.equal(s.cache, "kv");
});

test("each profile changes what it names", () => {
  assert.deepEqual(stagesOf("no-calibration")[2].reward, { lambda: 0, mix: "paper" });
  const code = stagesOf("released-code")[1];
  assert.deepEqual([code.selectBy, code.reward.mix, code.reward.lambda], ["lm-score", "rank-fraction", 0.9]);
  assert.equal(stagesOf("sampling")[0].proposal.kind, "sampling");
  const quick = stagesOf("quick")[0];
  assert.deepEqual(
    [quick.images, quick.maxCharacters, quick.proposal.beams, quick.proposal.diversityPenalty],
    [4, 400, 3, 3],
  );
  assert.deepEqual(
    stagesOf("images-32").map((s) => s.images),
    [32, 32, 32],
  );
  assert.deepEqual(
    stagesOf().map((s) => s.images),
    [256, 256, 256],
  );
  assert.deepEqual({ ...stagesOf("images-32")[1], images: 256 }, stagesOf()[1], "only the budget changes");
  assert.equal(loadRecipe(path, { profile: "validation" }).recipe.eval.split, "validation");
});

test("csr-endpoint.yaml: three sampling iterations over an endpoint, let through at start, asking for log-probs", () => {
  const endpointPath = join(root, "recipes/csr-endpoint.yaml");
  for (const profile of [undefined, "quick"]) {
    const { recipe } = loadRecipe(endpointPath, profile === undefined ? {} : { profile });
    const stages = recipe.stages as Csr[];
    assert.deepEqual(
      stages.map((s) => [s.name, s.type, s.proposal.kind]),
      [1, 2, 3].map((n) => [`csr-iter${n}`, "csr-iteration", "sampling"]),
    );
    const endpoint = endpointOf(recipe.model);
    assert.ok(endpoint !== null);
    checkStagesOverEndpoint(recipe.stages, endpoint, endpointPath);
    assert.deepEqual(runNeeds(recipe), { images: 1, generationLogprobs: true });
  }
  // The same stages with csr.yaml's diverse-beam proposal are refused over the endpoint.
  const { recipe } = loadRecipe(endpointPath);
  const beam = recipe.stages.map((s) => ({ ...s, proposal: stagesOf()[0].proposal }));
  assert.throws(
    () => checkStagesOverEndpoint(beam, endpointOf(recipe.model) ?? assert.fail(), endpointPath),
    /stages\[0\] csr-iter1 \(csr-iteration\) cannot run over the endpoint model base at .*: its proposal\.kind diverse-beam/,
  );
});
