import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BENCH_NAMES, makeBench } from "../../src/eval/benches.js";
import { type CapabilityItem, capabilitiesBench } from "../../src/eval/capabilities.js";
import { chairBench } from "../../src/eval/chair.js";
import { type PopeItem, popeBench } from "../../src/eval/pope.js";
import { readRecords, recompute, reparse } from "../../src/eval/records.js";
import { benchPrompt, renderPrompt, runBenchmark } from "../../src/eval/runner.js";
import { type SpeciesItem, speciesBench, speciesVocabulary } from "../../src/eval/species.js";
import { SynonymTable } from "../../src/eval/text.js";
import type { AnyBenchSpec, EvalItem } from "../../src/eval/types.js";
import { FakeBackend } from "./fake-backend.js";

const image = { bytes: new Uint8Array([137, 80, 78, 71]), mimeType: "image/png" as const };
const objects = SynonymTable.parse("circle, ring\nsquare, box\nstar\nheart\ncross, plus sign");
const vocab = speciesVocabulary(
  [["crested glider", "glider"], "spotted hopper"],
  ["forked tail", "crest", "round head"],
);

const pope = (id: string, object: string, label: "yes" | "no"): PopeItem => ({
  id,
  imageId: id.split("/")[0],
  image,
  object,
  label,
  question: `Is there a ${object} in the image?`,
});
const popeItems = [
  pope("a/0", "star", "yes"),
  pope("a/1", "heart", "no"),
  pope("b/0", "circle", "yes"),
  pope("b/1", "cross", "no"),
  pope("c/0", "square", "yes"),
];
// Canned answers, scored by hand with evaluate.py's rule:
// a/0 "Yes." → yes, label yes: TP; a/1 "Yes, there is a heart." → yes, label no: FP;
// b/0 "No, there is not." → no, label yes: FN; b/1 "No." → TN; c/0 "yes" → TP.
// TP 2, FP 1, FN 1, TN 1 → accuracy 3/5, precision 2/3, recall 2/3, F1 2/3, yes_ratio 3/5.
const popeAnswers = {
  "a/0": "Yes.",
  "a/1": "Yes, there is a heart.",
  "b/0": "No, there is not.",
  "b/1": "No.",
  "c/0": "yes",
};

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "eval-runner-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("prompt snapshots: a change to a bench's prompt must be deliberate", () => {
  // Literal snapshots of each bench's default user turn for one item.
  const q = pope("a/0", "star", "yes");
  for (const split of ["random", "popular", "adversarial"] as const) {
    assert.equal(benchPrompt(popeBench(split), q), "<image>\nIs there a star in the image?");
  }
  assert.equal(
    benchPrompt(chairBench(objects), { id: "x", imageId: "x", image, objects: [] }),
    "<image>\nDescribe this image in detail.",
  );
  assert.equal(
    benchPrompt(capabilitiesBench(objects), {
      id: "x",
      imageId: "x",
      image,
      question: "How many stars are there?",
      answer: "2",
      capabilities: ["counting"],
      k: 1,
    }),
    "<image>\nHow many stars are there?\nAnswer the question using a single word or phrase.",
  );
  assert.equal(
    benchPrompt(speciesBench(vocab), { id: "x", imageId: "x", image, species: "spotted hopper", visibleFeatures: [] }),
    "<image>\nWhat species is this creature? Explain which visual features show it.",
  );
  // Default generation settings are part of the snapshot too.
  assert.deepEqual(
    Object.fromEntries(
      BENCH_NAMES.map((n) => {
        const g = makeBench(n, { objects, species: vocab }).defaultGeneration;
        return [n, [g.maxTokens, g.temperature, g.seed]];
      }),
    ),
    {
      "pope-random": [32, 0, 0],
      "pope-popular": [32, 0, 0],
      "pope-adversarial": [32, 0, 0],
      chair: [256, 0, 0],
      capabilities: [16, 0, 0],
      species: [96, 0, 0],
    },
  );
});

test("prompt templates: placeholders must be fields, one image marker", () => {
  assert.equal(renderPrompt("<image>\nFind the {object}.", { object: "star" }), "<image>\nFind the star.");
  assert.throws(() => renderPrompt("<image>\n{question}", {}, "pope-random"), /pope-random.*\{question\}/);
  assert.throws(() => renderPrompt("{question}", { question: "q" }), /exactly one <image> marker, found 0/);
  assert.throws(() => renderPrompt("<image><image>", {}), /found 2/);
});

test("runner batches requests, writes records, and computes metrics from them", async () => {
  await withDir(async (dir) => {
    const backend = new FakeBackend(popeAnswers);
    const result = await runBenchmark({
      backend,
      bench: popeBench("random"),
      items: popeItems,
      generation: { maxTokens: 8, seed: 5 },
      batchSize: 2,
      outDir: dir,
    });
    // Batches of 2, 2, 1 with the settings asked for.
    assert.deepEqual(
      backend.calls.map((c) => c.requests.map((r) => r.id)),
      [["a/0", "a/1"], ["b/0", "b/1"], ["c/0"]],
    );
    const params = backend.calls[0].params;
    assert.deepEqual(
      [params.n, params.maxTokens, params.temperature, params.seed, params.logprobs],
      [1, 8, 0, 5, false],
    );
    assert.deepEqual(backend.calls[0].requests[0].messages, [
      { role: "user", content: "<image>\nIs there a star in the image?" },
    ]);
    assert.equal(backend.calls[0].requests[0].images[0], image);

    assert.equal(result.n, 5);
    assert.equal(result.model, "fake:canned");
    const m = result.metrics;
    assert.equal(m.accuracy, 0.6);
    assert.equal(m.precision, 2 / 3);
    assert.equal(m.recall, 2 / 3);
    assert.ok(Math.abs((m.f1 as number) - 2 / 3) < 1e-12);
    assert.equal(m.yes_ratio, 0.6);

    // Records: one per item in item order, with prompt, raw and parsed answers, truth, verdict.
    const records = readRecords(join(dir, "pope-random.records.jsonl"));
    assert.deepEqual(records[2], {
      item_id: "b/0",
      image_id: "b",
      prompt: "<image>\nIs there a circle in the image?",
      raw_answer: "No, there is not.",
      parsed_answer: "no",
      ground_truth: { object: "circle", label: "yes" },
      verdict: "FN",
      finish_reason: "stop",
    });
    // The stored result carries the generation settings; no partial files remain.
    const stored = JSON.parse(readFileSync(join(dir, "pope-random.json"), "utf8"));
    assert.deepEqual(stored.generation, {
      promptTemplate: "<image>\n{question}",
      maxTokens: 8,
      temperature: 0,
      topP: 1,
      topK: 0,
      stop: [],
      seed: 5,
      batchSize: 2,
      n: 1,
    });
    assert.deepEqual(stored.metrics, result.metrics);
    assert.equal(stored.higherIsBetter.yes_ratio, null);
    assert.equal(stored.higherIsBetter.accuracy, true);
    assert.deepEqual(readdirSync(dir).sort(), ["pope-random.json", "pope-random.records.jsonl"]);
  });
});

test("runner honours --limit", async () => {
  await withDir(async (dir) => {
    const backend = new FakeBackend(popeAnswers);
    const result = await runBenchmark({ backend, bench: popeBench("random"), items: popeItems, limit: 3, outDir: dir });
    assert.equal(result.n, 3);
    // a/0 TP, a/1 FP, b/0 FN → accuracy 1/3, yes_ratio 2/3.
    assert.equal(result.metrics.accuracy, 1 / 3);
    assert.equal(result.metrics.yes_ratio, 2 / 3);
    assert.equal(backend.calls.length, 1);
  });
});

test("a killed run resumes from its partial records and ends as an uninterrupted one", async () => {
  await withDir(async (dir) => {
    const bench = popeBench("random");
    const crashing = new FakeBackend(popeAnswers, 1); // second call throws
    await assert.rejects(
      runBenchmark({ backend: crashing, bench, items: popeItems, batchSize: 2, outDir: dir }),
      /backend died/,
    );
    assert.equal(readRecords(join(dir, "pope-random.partial.jsonl")).length, 2);
    assert.ok(!existsSync(join(dir, "pope-random.records.jsonl")));

    const backend = new FakeBackend(popeAnswers);
    const resumed = await runBenchmark({ backend, bench, items: popeItems, batchSize: 2, outDir: dir });
    assert.deepEqual(
      backend.calls.map((c) => c.requests.map((r) => r.id)),
      [["b/0", "b/1"], ["c/0"]],
    );
    const resumedRecords = readFileSync(join(dir, "pope-random.records.jsonl"), "utf8");

    // The same run without the crash gives the same records, byte for byte.
    const fresh = new FakeBackend(popeAnswers);
    const other = join(dir, "other");
    const full = await runBenchmark({ backend: fresh, bench, items: popeItems, batchSize: 2, outDir: other });
    assert.deepEqual(resumed.metrics, full.metrics);
    assert.equal(resumedRecords, readFileSync(join(other, "pope-random.records.jsonl"), "utf8"));
  });
});

test("partial records from other generation settings are not reused", async () => {
  await withDir(async (dir) => {
    const bench = popeBench("random");
    await assert.rejects(
      runBenchmark({ backend: new FakeBackend(popeAnswers, 1), bench, items: popeItems, batchSize: 2, outDir: dir }),
      /backend died/,
    );
    const backend = new FakeBackend(popeAnswers);
    await runBenchmark({ backend, bench, items: popeItems, batchSize: 2, outDir: dir, generation: { maxTokens: 4 } });
    assert.equal(backend.calls.flatMap((c) => c.requests).length, 5);
  });
});

test("every bench's metrics recompute from its records file alone", async () => {
  const capabilityItems: CapabilityItem[] = [
    { id: "c0", imageId: "a", image, question: "How many?", answer: "2", capabilities: ["counting"], k: 1 },
    { id: "c1", imageId: "a", image, question: "What?", answer: "box", capabilities: ["shape", "color"], k: 2 },
  ];
  const speciesItems: SpeciesItem[] = [
    { id: "s0", imageId: "a", image, species: "glider", visibleFeatures: ["crest"] },
  ];
  const benches: [AnyBenchSpec, EvalItem[], Record<string, string>][] = [
    [popeBench("adversarial"), popeItems, popeAnswers],
    [
      chairBench(objects),
      [
        { id: "d0", imageId: "a", image, objects: ["star", "circle"] } as EvalItem,
        { id: "d1", imageId: "b", image, objects: ["heart"] } as EvalItem,
      ],
      { d0: "Two stars and a ring.", d1: "A heart beside plus signs." },
    ],
    [capabilitiesBench(objects), capabilityItems, { c0: "Two.", c1: "circle" }],
    [speciesBench(vocab), speciesItems, { s0: "A crested glider with a crest and a forked tail." }],
  ];
  await withDir(async (dir) => {
    for (const [bench, items, answers] of benches) {
      const result = await runBenchmark({ backend: new FakeBackend(answers), bench, items, outDir: dir });
      const records = readRecords(result.recordsPath);
      assert.deepEqual(recompute(bench, records), result.metrics, bench.name);
      assert.deepEqual(reparse(bench, records), records, bench.name);
    }
  });
});
