// The eval command's flags read into a model and a source of items; wrong combinations refused by flag.
import assert from "node:assert/strict";
import { test } from "node:test";
import { benchSource, modelSpec } from "../../src/cli/eval-sources.js";

test("--model is an embedded checkpoint; --endpoint with --served-model an HTTP backend", () => {
  assert.deepEqual(modelSpec({ model: "assets/base" }), { kind: "embedded", modelDir: "assets/base" });
  assert.deepEqual(
    modelSpec(
      { endpoint: ["http://a:8000/v1", "http://b:8000/v1"], servedModel: "llava", apiKeyEnv: "KEY" },
      { KEY: "secret" },
    ),
    { kind: "openai", baseUrls: ["http://a:8000/v1", "http://b:8000/v1"], model: "llava", apiKey: "secret" },
  );
});

test("a model is named exactly once, with what it needs", () => {
  assert.throws(() => modelSpec({}), /no model; give --model DIR, or --endpoint URL --served-model NAME/);
  assert.throws(
    () => modelSpec({ model: "m", endpoint: ["http://a/v1"] }),
    /either --model DIR .* or --endpoint URL, not both/,
  );
  assert.throws(() => modelSpec({ endpoint: ["http://a/v1"] }), /--endpoint http:\/\/a\/v1 needs --served-model NAME/);
  assert.throws(() => modelSpec({ model: "m", servedModel: "x" }), /--served-model goes with --endpoint/);
  assert.throws(
    () => modelSpec({ endpoint: ["http://a/v1"], servedModel: "x", apiKeyEnv: "NOPE" }, {}),
    /--api-key-env NOPE: the environment variable NOPE is not set/,
  );
});

test("world benches read --data and --split (test by default); file benches their files", () => {
  assert.deepEqual(benchSource({ bench: "pope-adversarial", data: "w" }), {
    kind: "world",
    name: "pope-adversarial",
    data: "w",
    split: "test",
  });
  assert.deepEqual(benchSource({ bench: "pope", questions: "q.json", images: "img", limit: 5 }), {
    kind: "pope-file",
    questions: "q.json",
    images: "img",
    limit: 5,
  });
  assert.deepEqual(benchSource({ bench: "chair", annotations: "i.json", images: "img", chairPrompt: "Describe." }), {
    kind: "coco-chair",
    annotations: "i.json",
    captions: undefined,
    images: "img",
    prompt: "Describe.",
    limit: undefined,
  });
  assert.deepEqual(benchSource({ bench: "chair", data: "w", split: "validation" }), {
    kind: "world",
    name: "chair",
    data: "w",
    split: "validation",
  });
});

test("flags of the other source are refused by name", () => {
  assert.throws(
    () => benchSource({ bench: "pope", images: "img" }),
    /--bench pope \(a POPE question file\) needs --questions/,
  );
  assert.throws(() => benchSource({ bench: "pope", questions: "q" }), /needs --images/);
  assert.throws(
    () => benchSource({ bench: "pope", questions: "q", images: "i", data: "w" }),
    /--data do not apply to --bench pope/,
  );
  assert.throws(
    () => benchSource({ bench: "chair", annotations: "a" }),
    /--bench chair over COCO annotations needs --images/,
  );
  assert.throws(
    () => benchSource({ bench: "chair", images: "img" }),
    /--images apply to standard files, not to the world bench 'chair' \(CHAIR over COCO takes --annotations FILE --images DIR\)/,
  );
  assert.throws(() => benchSource({ bench: "pope-random", questions: "q" }), /--questions apply to standard files/);
  assert.throws(() => benchSource({ bench: "amber" }), /unknown bench 'amber'/);
});
