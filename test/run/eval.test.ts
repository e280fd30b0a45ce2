import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { GeneratedSample, GenerationParams, GenerationRequest } from "../../src/backends/types.js";
import { popeBench } from "../../src/eval/pope.js";
import { describeFirstMode } from "../../src/methods/stic/describe-then-answer.js";
import { evaluateRound } from "../../src/run/eval.js";
import { registerInferenceMode } from "../../src/run/inference-mode.js";
import { evalConfigSchema } from "../../src/run/recipe.js";
import { FakeModel, popeItems, tmp } from "./kinds.js";

registerInferenceMode(describeFirstMode);

/** Echoes nothing useful: says "Yes." and records the last user turn of every request. */
class Recorder extends FakeModel {
  readonly asked: string[] = [];
  override async generate(requests: GenerationRequest[], params: GenerationParams): Promise<GeneratedSample[][]> {
    return requests.map((r) => {
      const content = r.messages.at(-1)!.content;
      this.asked.push(`${params.temperature} ${content}`);
      const text = content.endsWith("Describe this image in detail.") ? "A red star." : "Yes.";
      return [{ text, tokens: [], logprobs: null, finishReason: "stop" as const }];
    });
  }
}

test("describeFirst: each image described once (greedy), then the question asked with the description", async () => {
  const dir = tmp("describe-");
  const model = new Recorder("m", []);
  await evaluateRound({
    round: "base",
    model: "m",
    outDir: join(dir, "eval", "base"),
    config: evalConfigSchema().parse({ benches: ["pope-random"], describeFirst: true, batchSize: 4 }),
    worldDir: dir,
    openModel: async () => model,
    loadBench: async () => ({ bench: popeBench("random"), items: popeItems }),
  });
  // popeItems share one image: described once, at temperature 0, with the sceneworld prompt.
  assert.deepEqual(model.asked, [
    "0 <image>\nDescribe this image in detail.",
    ...popeItems.map((i) => `0 <image>\nImage description:\nA red star.\n\n${i.question}`),
  ]);
  const records = readFileSync(join(dir, "eval", "base", "pope-random.records.jsonl"), "utf8");
  assert.doesNotMatch(records, /Image description/, "records keep the bench's own prompt");
});

test("evaluateRound: a finished bench is read back without opening the model", async () => {
  const dir = tmp("round-");
  const calls: string[] = [];
  let opened = 0;
  const options = {
    round: "base",
    model: "m",
    outDir: join(dir, "eval", "base"),
    config: evalConfigSchema().parse({ benches: ["pope-random"], limit: 3 }),
    worldDir: dir,
    openModel: async (d: string) => {
      opened++;
      return new FakeModel(d, calls);
    },
    loadBench: async () => ({ bench: popeBench("random"), items: popeItems }),
  };
  const first = await evaluateRound(options);
  assert.equal(opened, 1);
  assert.equal(calls.length, 3);
  // 2 present (yes, yes) + 1 absent answered yes: accuracy 2/3.
  assert.equal((first["pope-random"] as { accuracy: number }).accuracy, 2 / 3);
  const second = await evaluateRound(options);
  assert.equal(opened, 1);
  assert.deepEqual(second, first);
  // A larger limit is new work: the model is opened, and only the new item asked.
  await evaluateRound({ ...options, config: { ...options.config, limit: 4 } });
  assert.equal(opened, 2);
});
