// The sts-round stage end to end on the tiny world, a tiny random-weights VLM and a tiny
// random-weights CLIP-style scorer (the real runner, embedded backend and trainer): round 1
// selects concepts and writes label-plus-concept answers under bare questions, round 2 samples
// and keeps one answer per question (or the fallback), each mixed 1:1 with general data, trained
// and evaluated; a round 2 without its round-1 stage is refused. On the user's data, without a
// world: labelled images in an ImageFolder layout, a concepts file and a sharegpt SFT file as the
// general data; the recipe-load checks; bad input refused before anything is made.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { encodePng } from "../../../src/images/index.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { worldConceptLists } from "../../../src/methods/sts/concepts.js";
import { labelledCreatures } from "../../../src/methods/sts/items.js";
import type { ImageSelection } from "../../../src/methods/sts/selection.js";
import { resolveRecipe } from "../../../src/run/recipe.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { getStageKind } from "../../../src/run/stage-kind.js";
import { readJsonl, shareGptLine, solid } from "../../data/fixtures.js";
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
  const round1Images = new Set(selection.map((s) => s.id));
  assert.ok(
    r2.every((r) => round1Images.has(r.provenance.source as string)),
    "round 2 samples round 1's images (whose concepts it selected)",
  );
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
  // The draw behind it: among the given ids only (this pool holds 2 creatures; round 1 drew both).
  const everyCreature = labelledCreatures(worldDir, 10, 0);
  assert.equal(everyCreature.length, 2);
  for (const kept of everyCreature) {
    const drawn = labelledCreatures(worldDir, 2, 3, new Set([kept.id]));
    assert.deepEqual(
      drawn.map((c) => c.id),
      [kept.id],
    );
  }
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

// --- on the user's data -------------------------------------------------------------------------

const own = join(dir, "own");
const birds = join(own, "birds");
const conceptsFile = join(own, "concepts.json");
const generalFile = join(own, "general.jsonl");
/** The general file's conversations by id, as written (for comparing whole conversations). */
const conversations = new Map<string, { user: string; answer: string }[]>();

before(async () => {
  for (const [label, colours] of [
    [
      "Laysan Albatross",
      [
        [250, 250, 250],
        [230, 230, 220],
      ],
    ],
    [
      "Least Tern",
      [
        [60, 60, 60],
        [90, 80, 70],
      ],
    ],
  ] as const) {
    mkdirSync(join(birds, label), { recursive: true });
    for (const [i, rgb] of colours.entries())
      writeFileSync(
        join(birds, label, `${i}.png`),
        await encodePng(solid(32, 32, [...rgb] as [number, number, number])),
      );
  }
  writeFileSync(join(birds, "Least Tern", "broken.png"), "not a png");
  writeFileSync(
    conceptsFile,
    JSON.stringify({
      "Laysan Albatross": ["a white head", "dark wings", "a pink bill", "a long body"],
      "Least Tern": ["a black cap", "a forked tail", "a yellow bill", "short legs"],
      "Sooty Albatross": ["sooty plumage", "a dark bill", "long wings"],
    }),
  );
  mkdirSync(join(own, "coco"), { recursive: true });
  writeFileSync(join(own, "coco", "mug.png"), await encodePng(solid(32, 32, [200, 30, 30])));
  const lines: unknown[] = [];
  for (let i = 0; i < 14; i++) {
    const turns = [
      { user: `<image>\nWhat is on the table ${i}?`, answer: "A red mug." },
      ...(i % 2 === 0 ? [{ user: "What colour is it?", answer: "Red." }] : []),
    ];
    conversations.set(`general/c${i}`, turns);
    lines.push({
      id: `c${i}`,
      conversations: turns.flatMap((t) => [
        { from: "human", value: t.user },
        { from: "gpt", value: t.answer },
      ]),
      images: ["coco/mug.png"],
    });
  }
  lines.push({
    id: "blank",
    conversations: [
      { from: "human", value: "Hi" },
      { from: "gpt", value: "" },
    ],
  });
  writeFileSync(generalFile, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
});

function ownRecipe(name: string, rounds: number[], extra: { general?: string; concepts?: string } = {}): string {
  const path = join(dir, `${name}.yaml`);
  const stage = (n: number) => `  - name: sts-round${n}
    type: sts-round
    round: ${n}
${n > 1 ? "    conceptsFrom: sts-round1\n" : ""}    images: ${n === 1 ? 5 : 2}
    labelled: { folder: ${birds} }
    concepts: { file: ${extra.concepts ?? conceptsFile} }
    general: { source: file, path: ${extra.general ?? generalFile}, format: sharegpt }
    scorer: ${scorer}
    describe: { prompts: 2, samples: 2, maxTokens: 8 }
    sampling: { samples: 3, maxTokens: 8 }
    chunkSize: 2
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`;
  writeFileSync(
    path,
    `name: sts-own
seed: 0
threads: 1
model: ${base}
stages:
${rounds.map(stage).join("")}`,
  );
  return path;
}

test("recipe load: labelled images and a general file need no world; labelled images need a concepts file", () => {
  const resolve = (stage: Record<string, unknown>, doc: Record<string, unknown> = {}) =>
    resolveRecipe(
      { name: "r", model: "m", stages: [{ name: "s", type: "sts-round", round: 1, images: 4, ...stage }], ...doc },
      "r.yaml",
    );
  const message = (stage: Record<string, unknown>) => {
    try {
      resolve(stage);
    } catch (error) {
      return (error as Error).message;
    }
    return "no error";
  };
  const files = {
    labelled: { folder: "birds" },
    concepts: { file: "c.json" },
    general: { source: "file", path: "g.jsonl", format: "llava" },
  };
  const r = resolve(files);
  assert.equal(r.world, undefined);
  const kind = getStageKind("sts-round");
  assert.deepEqual(kind.needsSplits?.(r.stages[0], { world: false, images: false }), []);
  // The default: the pool's creatures and the instruction split, both SceneWorld's.
  const world = { world: { config: "w.yaml", dir: "w" } };
  assert.deepEqual(kind.needsSplits?.(resolve({}, world).stages[0], { world: true, images: false }), [
    "pool",
    "instruction",
  ]);
  assert.deepEqual(resolve({}, world).stages[0].general, { source: "sceneworld" });
  assert.match(
    message({ general: files.general }),
    /r\.yaml: world: required: stage s \(sts-round\) reads SceneWorld's pool split; add world:/,
  );
  assert.match(
    message({ labelled: files.labelled, concepts: files.concepts }),
    /world: required: stage s \(sts-round\) reads SceneWorld's instruction split; add world:/,
  );
  assert.match(
    message({ labelled: files.labelled, general: files.general }),
    /r\.yaml: stages\[0\]\.concepts: stage s \(sts-round\): the labelled images' classes need their visual features from a file: concepts: \{ file: PATH \}/,
  );
  assert.match(message({ ...files, labelled: { folder: "a", jsonl: "b" } }), /stages\[0\]\.labelled/);
});

test("rounds 1 and 2 on a labelled folder and a sharegpt file, without a world", async () => {
  const run = join(dir, "own-run");
  const lines: string[] = [];
  await runRecipe({ recipePath: ownRecipe("own", [1, 2]), out: run, deps: quietDeps(lines) });

  // Round 1: the four images that decode, labelled by their folders; the broken one a drop.
  const r1 = data(run, "sts-round1");
  const selection = JSON.parse(readFileSync(join(r1, "selected.json"), "utf8")) as ImageSelection[];
  assert.deepEqual(
    selection.map((s) => [s.id, s.label]),
    [
      ["Laysan Albatross/0.png", "Laysan Albatross"],
      ["Laysan Albatross/1.png", "Laysan Albatross"],
      ["Least Tern/0.png", "Least Tern"],
      ["Least Tern/1.png", "Least Tern"],
    ],
  );
  for (const s of selection) assert.ok(s.selected.length >= 3);
  assert.deepEqual(readJsonl(join(r1, "drops.jsonl")), [{ itemId: "Least Tern/broken.png", reason: "not_an_image" }]);
  const records = readRecords(join(r1, "sts.jsonl"), "sft", { root: r1 });
  assert.equal(records.length, 12, "4 images x 3 question types");
  for (const r of records)
    assert.ok(r.messages[1].content.includes(selection.find((s) => s.id === r.provenance.source)?.label as string));

  // The 1:1 mix: 12 general records, each a whole conversation of the file (multi-turn ones whole).
  const train = readRecords(join(r1, "train.jsonl"), "sft", { root: r1 });
  const general = train.filter((r) => r.id.startsWith("general/"));
  assert.equal(train.length, 24);
  assert.equal(general.length, 12);
  for (const r of general) {
    const want = conversations.get(r.id);
    assert.ok(want, r.id);
    assert.deepEqual(
      r.messages,
      want.flatMap((t) => [
        { role: "user", content: t.user },
        { role: "assistant", content: t.answer },
      ]),
    );
    assert.equal(r.images.length, 1);
    assert.equal(r.provenance.model, `dataset:${generalFile}`);
  }
  assert.ok(
    general.some((r) => r.messages.length === 4),
    "a multi-turn conversation among those drawn",
  );
  assert.deepEqual(readJsonl(join(r1, "general-drops.jsonl")), [{ itemId: "general/blank", reason: "empty-answer" }]);
  assert.ok(
    lines.some((l) => l.includes(`${generalFile}: 14 general conversations of 15; dropped {"empty-answer":1}`)),
  );

  // Round 2: two of round 1's images (the ones with selected concepts), each with 3 answers.
  const r2 = readRecords(join(data(run, "sts-round2"), "sts.jsonl"), "sft", { root: data(run, "sts-round2") });
  assert.equal(r2.length, 6);
  for (const r of r2)
    assert.ok(
      selection.some((s) => s.id === r.provenance.source),
      r.provenance.source,
    );
  assert.ok(existsSync(join(run, "stages", "sts-round2", "model", "model.safetensors")));
});

test("on the user's data: a label without features, or a general image that does not decode, stops the stage before anything is made", async () => {
  const partial = join(own, "partial.json");
  writeFileSync(partial, JSON.stringify({ "Laysan Albatross": ["a white head", "dark wings", "a pink bill"] }));
  const run = join(dir, "own-no-label");
  await assert.rejects(
    runRecipe({ recipePath: ownRecipe("no-label", [1], { concepts: partial }), out: run, deps: quietDeps() }),
    new RegExp(`${partial}: no visual features for class Least Tern \\(label of labelled image folder ${birds}\\)`),
  );
  assert.ok(!existsSync(join(run, "stages", "sts-round1", "data")), "nothing written");

  writeFileSync(join(own, "coco", "broken.png"), "not a png");
  const bad = join(own, "bad-general.jsonl");
  const entry = shareGptLine;
  writeFileSync(
    bad,
    `${Array.from({ length: 11 }, (_, i) => entry(`g${i}`, "coco/mug.png")).join("\n")}\n${entry("bad", "coco/broken.png")}\n`,
  );
  const run2 = join(dir, "own-bad-general");
  await assert.rejects(
    runRecipe({ recipePath: ownRecipe("bad-general", [1], { general: bad }), out: run2, deps: quietDeps() }),
    // 12 conversations: the most the mix can draw beside 4 images x 3 questions, all checked.
    new RegExp(`${bad} line 12 \\(id "bad"\\): image`),
  );
  const stage = join(run2, "stages", "sts-round1");
  assert.ok(!existsSync(join(stage, "steps", "describe.json")), "no description made");
  assert.ok(!existsSync(join(stage, "data")), "nothing written");
});
