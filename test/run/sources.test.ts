// Recipes over the user's model and images: `model:` as a folder or an endpoint, `images:` beside
// `world:`, `dataOnly`, and the checks that tie stages to their sources (src/run/recipe.ts,
// src/run/model-source.ts), with STIC's kinds registered.
import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { registerStic } from "../../src/methods/stic/index.js";
import { checkStagesOverEndpoint, endpointSpec, runNeeds } from "../../src/run/model-source.js";
import { resolveRecipe } from "../../src/run/recipe.js";
import { defineStageKind, registerStageKind } from "../../src/run/stage-kind.js";

registerStic();
// A kind that runs inside the embedded model (as CSR's diverse beam search does).
registerStageKind(
  defineStageKind({
    type: "test-inside",
    schema: z.object({}),
    needs: () => ({ weights: true, embeddedOnly: "it steps the embedded decoder itself" }),
    run: async () => ({ model: "m", evaluate: false }),
  }),
);

const endpoint = { endpoint: { baseUrls: ["http://127.0.0.1:8000/v1"], model: "llava" } };
const stic = (extra: Record<string, unknown> = {}) => ({ name: "s1", type: "stic-preferences", ...extra });
const resolve = (doc: Record<string, unknown>) => resolveRecipe({ name: "r", ...doc }, "r.yaml");
const message = (doc: Record<string, unknown>) => {
  try {
    resolve(doc);
  } catch (error) {
    return (error as Error).message;
  }
  return "no error";
};

test("model: a folder or an endpoint; errors name the exact field", () => {
  assert.equal(resolve({ model: "assets/base", stages: [] }).model, "assets/base");
  assert.deepEqual(resolve({ model: endpoint, stages: [] }).model, endpoint);
  assert.equal(message({ stages: [] }), "r.yaml: model: required field missing (expected a string)");
  assert.match(
    message({ model: { endpoint: { baseUrls: ["ftp://x"], model: "m" } }, stages: [] }),
    /model\.endpoint\.baseUrls\[0\]: expected an http\(s\) URL/,
  );
  assert.match(
    message({ model: { endpoint: { baseUrls: ["http://x/v1"] } }, stages: [] }),
    /model\.endpoint\.model: required field missing/,
  );
  assert.match(
    message({ model: { endpoint: { baseUrls: ["http://x/v1"], model: "m", key: "x" } }, stages: [] }),
    /model\.endpoint\.key: unknown field/,
  );
  assert.match(
    message({ model: { endpoint: { baseUrls: [], model: "m" } }, stages: [] }),
    /model\.endpoint\.baseUrls: /,
  );
});

test("images: with a stage that takes pool images; without world the benches default to none", () => {
  const r = resolve({ model: endpoint, images: { folder: "pics" }, stages: [stic({ dataOnly: true })] });
  assert.deepEqual(r.images, { folder: "pics" });
  assert.equal(r.world, undefined);
  assert.deepEqual(r.eval.benches, []);
  assert.equal(r.stages[0].dataOnly, true);
});

test("world and images: both, neither, or the wrong one for a stage are errors naming the stage", () => {
  const world = { config: "w.yaml", dir: "w" };
  assert.match(
    message({ model: "m", world, images: { folder: "pics" }, stages: [stic()] }),
    /r\.yaml: images: stage s1 \(stic-preferences\) reads pool images, and both world: and images: give them; keep one/,
  );
  assert.match(
    message({ model: "m", stages: [stic()] }),
    /r\.yaml: world: required: stage s1 \(stic-preferences\) reads SceneWorld's pool split; add world: \{ config, dir \} or give images: \{ folder: DIR \}/,
  );
  // The oracle filter reads the pool's scene graphs: the user's images cannot stand in.
  assert.match(
    message({ model: "m", images: { folder: "pics" }, stages: [stic({ oracleFilter: true })] }),
    /world: required: stage s1 \(stic-preferences\) reads SceneWorld's pool split \(it cannot take its pool images from images:\)/,
  );
  assert.match(
    message({ model: "m", images: { folder: "pics" }, stages: [{ name: "s2", type: "stic-infused-sft" }] }),
    /world: required: stage s2 \(stic-infused-sft\) reads SceneWorld's instruction split/,
  );
  assert.match(
    message({ model: "m", images: { jsonl: "x.jsonl" }, eval: { benches: ["chair"] }, stages: [] }),
    /eval\.benches: the benches \(chair\) are SceneWorld's and the recipe names no world:/,
  );
  assert.match(message({ model: "m", images: { folder: "a", jsonl: "b" }, stages: [] }), /r\.yaml: images: /);
});

test("over an endpoint: a training stage passes (its training is handed off), one inside the embedded model fails", () => {
  const r = resolve({ model: endpoint, images: { folder: "pics" }, stages: [stic()] });
  checkStagesOverEndpoint(r.stages, endpoint.endpoint, "r.yaml");
  const inside = resolve({
    model: endpoint,
    images: { folder: "pics" },
    stages: [stic(), { name: "s2", type: "test-inside" }],
  });
  assert.throws(
    () => checkStagesOverEndpoint(inside.stages, endpoint.endpoint, "r.yaml"),
    /^ModelSourceError: r\.yaml: stages\[1\] s2 \(test-inside\) cannot run over the endpoint model llava at http:\/\/127\.0\.0\.1:8000\/v1: it steps the embedded decoder itself; give model: a checkpoint folder$/,
  );
  const ok = resolve({ model: endpoint, images: { folder: "pics" }, stages: [stic({ dataOnly: true })] });
  checkStagesOverEndpoint(ok.stages, endpoint.endpoint, "r.yaml");
  assert.deepEqual(runNeeds(ok), { images: 1 });
  const scoring = resolve({
    model: endpoint,
    images: { folder: "p" },
    stages: [stic({ dataOnly: true, selfCheck: {} })],
  });
  assert.deepEqual(runNeeds(scoring), { images: 1, scoring: true });
});

test("apiKeyEnv: the key comes from the environment; an unset variable names itself and the endpoint", () => {
  const e = { ...endpoint.endpoint, apiKeyEnv: "VLLM_KEY", maxAttempts: 2 };
  assert.deepEqual(endpointSpec(e, "r.yaml", { VLLM_KEY: "k" }), {
    kind: "openai",
    baseUrls: e.baseUrls,
    model: "llava",
    apiKey: "k",
    retry: { maxAttempts: 2 },
  });
  assert.throws(
    () => endpointSpec(e, "r.yaml", {}),
    /r\.yaml: model\.endpoint\.apiKeyEnv: the environment variable VLLM_KEY is not set \(it should hold the API key of http:\/\/127\.0\.0\.1:8000\/v1\)/,
  );
});

test("trainElsewhere on the recipe and on a stage: baseModel and template, nothing else", () => {
  const r = resolve({
    model: endpoint,
    images: { folder: "pics" },
    trainElsewhere: { baseModel: "llava-hf/llava-1.5-7b-hf", template: "llava" },
    stages: [stic({ trainElsewhere: { template: "llava_next" } })],
  });
  assert.deepEqual(r.trainElsewhere, { baseModel: "llava-hf/llava-1.5-7b-hf", template: "llava" });
  assert.deepEqual(r.stages[0].trainElsewhere, { template: "llava_next" });
  assert.equal(resolve({ model: endpoint, images: { folder: "p" }, stages: [stic()] }).trainElsewhere, undefined);
  assert.match(
    message({ model: endpoint, images: { folder: "p" }, trainElsewhere: { base: "x" }, stages: [] }),
    /r\.yaml: trainElsewhere\.base: unknown field; allowed fields: baseModel, template/,
  );
  assert.match(
    message({ model: endpoint, images: { folder: "p" }, stages: [stic({ trainElsewhere: { baseModel: "" } })] }),
    /r\.yaml: stages\[0\]\.trainElsewhere\.baseModel: /,
  );
});

test("runNeeds of the stages still to run: a later stage's needs only", () => {
  const r = resolve({
    model: endpoint,
    images: { folder: "pics" },
    stages: [stic({ selfCheck: {} }), stic({ name: "s2" })],
  });
  assert.deepEqual(runNeeds(r), { images: 1, scoring: true });
  assert.deepEqual(runNeeds(r, r.stages.slice(1)), { images: 1 });
  assert.deepEqual(runNeeds(r, []), { images: 0 });
});
