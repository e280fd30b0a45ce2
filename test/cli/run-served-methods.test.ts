// BPO and STS over a served model and the user's own files, end to end: `selfsynth run` (its own
// process: real exit codes) over a real `selfsynth serve` (a tiny random-weights VLM served as
// "tiny"), with no world: every input is a file written here (PNG and JPEG images, an SFT file in
// LLaVA's JSON, one of canonical records, an ImageFolder of labelled images, a concepts file).
//
//   BPO: positives from the LLaVA file (a text-only entry among them: a `no-image` drop),
//   negatives from the endpoint by error injection in `rewrite` mode (the text-only rewrite
//   prompt) and by image weakening (noisy decoding); the pairs, their export for a trainer
//   elsewhere, and the run waits for the stage's model (exit 3).
//   STS round 1: the endpoint describes the labelled images, the scorer selects their concepts,
//   the endpoint writes the answers from label and concepts (`synthesis.writer: policy`), kept when
//   they name the label, mixed 1:1 with the canonical file's conversations; the records, their
//   export, and the run waits (exit 3).
//   BPO's contrastive weakening decodes inside the embedded model (every step's full logits): over
//   an endpoint it is refused at start, naming the stage and the option, before anything is written.
//
// The random-weights model writes random words of the world's vocabulary. Its negatives nearly
// always stop on the token limit, so BPO keeps truncated ones (`dropTruncated: false`); STS's labels
// ("circles", "crosses") are words it writes often, so some of its answers name them (seeded: 2 of 9).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImageStore } from "../../src/data/image-store.js";
import { encodeJpeg, encodePng } from "../../src/images/index.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { namesLabel } from "../../src/methods/sts/questions.js";
import { runRecipe } from "../../src/run/runner.js";
import { readJson, readJsonl } from "../data/fixtures.js";
import { quietDeps, saveTinyScorer, tinyWorldStage } from "../methods/stic/stage-fixtures.js";
import { pattern } from "../serve/fixture.js";
import { type ServeProcess, selfsynthRun, startServe } from "./selfsynth-process.js";

registerBuiltinMethods();

// Room for BPO's QA rewrite prompt (six few-shot examples): about 270 tokens; the default 160 is too few.
const fx = tinyWorldStage("selfsynth-run-served-methods-", 512);
const files = join(fx.dir, "files");
let server: ServeProcess | undefined;
let url = "";
let scorer = "";

before(async () => {
  mkdirSync(files, { recursive: true });
  scorer = saveTinyScorer(fx.dir, fx.base);
  server = await startServe(fx.base, { name: "tiny" });
  url = server.url;
});

after(async () => {
  await server?.stop();
});

/** The name the endpoint's records carry as their model. */
const servedName = () => `http:tiny@${new URL(url).host}`;
const handOff = { lora: { r: 4, alpha: 8 }, train: { lr: 0.001, maxSteps: 2, batchSize: 2 } };

/** A recipe (JSON is YAML) of `stages` over the model served at `baseUrl`; its path. */
function writeRecipe(name: string, baseUrl: string, stages: Record<string, unknown>[]): string {
  const path = join(fx.dir, `${name}.yaml`);
  const model = { endpoint: { baseUrls: [baseUrl], model: "tiny", maxAttempts: 2 } };
  writeFileSync(path, JSON.stringify({ name, threads: 1, model, stages }));
  return path;
}

/** `selfsynth run RECIPE --out DIR`, which must stop waiting for `stage`'s model (exit 3); DIR. */
async function runUntilWaiting(recipe: string, name: string, stage: string): Promise<string> {
  const out = join(fx.dir, "runs", name);
  const run = await selfsynthRun([recipe, "--out", out]);
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stdout, new RegExp(`waiting for stage ${stage}'s model`));
  const waiting = readJson(join(out, "waiting.json"));
  assert.equal(waiting.stage, stage);
  assert.equal(waiting.inputModel, `endpoint:tiny@${url}`);
  assert.equal(readJson(join(out, "manifest.json")).status, "waiting");
  return out;
}

const lines = (path: string) => (existsSync(path) ? readJsonl(path) : []);

// --- BPO ----------------------------------------------------------------------------------------

/**
 * LLaVA's JSON over PNG and JPEG files: a description (description-mode rewrite), a two-turn QA
 * conversation (two positives, QA-mode rewrite) and a text-only entry (dropped: BPO weakens the image).
 */
async function writeLlavaFile(): Promise<string> {
  mkdirSync(join(files, "photos"), { recursive: true });
  writeFileSync(join(files, "photos", "a.png"), await encodePng(pattern(1, 32, 32)));
  writeFileSync(join(files, "photos", "b.jpg"), await encodeJpeg(pattern(2, 40, 30)));
  const entries = [
    {
      id: "desc",
      image: "photos/a.png",
      conversations: [
        { from: "human", value: "<image>\nDescribe the image in detail." },
        { from: "gpt", value: "A red star stands left of a blue circle on a white ground." },
      ],
    },
    {
      id: "qa",
      image: "photos/b.jpg",
      conversations: [
        { from: "human", value: "<image>\nWhat color is the star?" },
        { from: "gpt", value: "The star is red." },
        { from: "human", value: "How many circles are there?" },
        { from: "gpt", value: "Two." },
      ],
    },
    {
      id: "text-only",
      conversations: [
        { from: "human", value: "What is two plus two?" },
        { from: "gpt", value: "Four." },
      ],
    },
  ];
  const path = join(files, "sft.json");
  writeFileSync(path, JSON.stringify(entries));
  return path;
}

const bpoStage = (sft: string, weakening: Record<string, unknown> = {}) => ({
  name: "bpo",
  type: "bpo-preferences",
  positives: { source: "file", path: sft, format: "llava" },
  injection: { mode: "rewrite", maxTokens: 8 },
  weakening: { maxTokens: 8, ...weakening },
  dropTruncated: false,
  chunkSize: 2,
  ...handOff,
});

test("BPO over a served model: positives from a LLaVA file, rewrite and weakening negatives from the endpoint, pairs exported, the run waits (exit 3)", async () => {
  const sft = await writeLlavaFile();
  const out = await runUntilWaiting(writeRecipe("served-bpo", url, [bpoStage(sft)]), "served-bpo", "bpo");
  const stage = join(out, "stages", "bpo");
  const data = join(stage, "data");

  // Positives: every assistant turn of an entry with one image; the text-only entry a drop.
  assert.deepEqual(readJson(join(stage, "steps", "positives.json")).result, {
    candidates: 4,
    records: 3,
    drops: { "no-image": 1 },
  });
  const positives = readJsonl(join(data, "positives.jsonl"));
  assert.deepEqual(
    positives.map((p) => [p.id, p.provenance.reasons]),
    [
      ["desc", ["positive", "style:description"]],
      ["qa/turn-0", ["positive", "style:qa"]],
      ["qa/turn-1", ["positive", "style:qa"]],
    ],
  );
  for (const p of positives) assert.equal(p.provenance.model, `dataset:${sft}`);
  const answerOf = new Map(positives.map((p) => [p.id, p.messages[p.messages.length - 1].content]));

  // Pairs: one per (positive, generator) or a drop, every item exactly once.
  const pairs = readJsonl(join(data, "pairs.jsonl"));
  const drops = lines(join(data, "drops.jsonl"));
  assert.deepEqual(
    drops.filter((d) => d.reason === "no-image"),
    [{ itemId: "text-only", reason: "no-image" }],
  );
  const negativeDrops = drops.filter((d) => d.reason !== "no-image");
  const items = [...pairs.map((p) => p.id), ...negativeDrops.map((d) => d.itemId)].sort();
  const expected = positives.flatMap((p) => [`${p.id}/injection`, `${p.id}/weakening`]).sort();
  assert.deepEqual(items, expected, "every positive gives a pair or a drop per generator");
  assert.ok(pairs.length >= 2, `pairs from the endpoint: ${JSON.stringify(negativeDrops)}`);
  const generated = new Set<string>();
  for (const p of pairs) {
    const [positive, generator] = [p.id.slice(0, p.id.lastIndexOf("/")), p.id.slice(p.id.lastIndexOf("/") + 1)];
    assert.equal(p.provenance.method, "bpo");
    assert.equal(p.provenance.model, servedName());
    assert.equal(p.chosen, answerOf.get(positive));
    assert.ok(p.rejected.trim() !== "" && p.rejected !== p.chosen, `${p.id}: a negative of its own`);
    assert.equal(p.images.length, 1);
    assert.ok(existsSync(join(data, p.images[0])), p.images[0]);
    assert.match(p.prompt[0].content, /^<image>\n/);
    const reason = p.provenance.reasons[0];
    generated.add(reason);
    if (generator === "injection") {
      assert.equal(reason, "negative:injection:rewrite");
      assert.equal(p.provenance.sampling.mode, "rewrite");
    } else {
      assert.equal(reason, "negative:weakening:noisy");
      assert.equal(p.provenance.sampling.t, 900);
      assert.equal(typeof p.provenance.sampling.clipped, "number");
    }
  }
  assert.deepEqual([...generated].sort(), ["negative:injection:rewrite", "negative:weakening:noisy"]);

  // The hand-off: the pairs for TRL and LLaMA-Factory, DPO.
  assert.equal(readJsonl(join(stage, "export", "trl", "preference.jsonl")).length, pairs.length);
  assert.equal(readJson(join(stage, "export", "llamafactory", "preference.json")).length, pairs.length);
  assert.equal(readJson(join(stage, "steps", "export.json")).result.objective, "dpo");
  assert.ok(existsSync(join(stage, "export", "TRAIN.md")));
  assert.ok(!existsSync(join(stage, "model")), "nothing trained here");
});

test("BPO's contrastive weakening over a served model is refused at start, naming the stage and the option", async () => {
  const recipe = writeRecipe("served-bpo-contrastive", "http://127.0.0.1:9/v1", [
    bpoStage(join(files, "sft.json"), { decoding: "contrastive" }),
  ]);
  const out = join(fx.dir, "runs", "served-bpo-contrastive");
  // Port 9 answers nothing: the refusal comes before the endpoint is asked anything.
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps: quietDeps() }),
    /stages\[0\] bpo \(bpo-preferences\) cannot run over the endpoint model tiny at http:\/\/127\.0\.0\.1:9\/v1: its weakening\.decoding contrastive .*set weakening: \{ decoding: noisy \}/,
  );
  assert.ok(!existsSync(join(out, "stages")), "no stage started, no positive stored");
});

// --- STS ----------------------------------------------------------------------------------------

const CONCEPTS: Record<string, string[]> = {
  circles: ["a round edge", "black dots", "a white ground"],
  crosses: ["two bars", "a thick centre", "square ends"],
  // A class the images do not have: a concepts file may list more.
  stars: ["five points"],
};

/** An ImageFolder (one sub-folder per class, its name the label) of 3 images, PNG and JPEG. */
async function writeLabelledFolder(): Promise<string> {
  const folder = join(files, "labelled");
  mkdirSync(join(folder, "circles"), { recursive: true });
  mkdirSync(join(folder, "crosses"), { recursive: true });
  writeFileSync(join(folder, "circles", "1.png"), await encodePng(pattern(11, 32, 32)));
  writeFileSync(join(folder, "circles", "2.jpg"), await encodeJpeg(pattern(12, 40, 30)));
  writeFileSync(join(folder, "crosses", "3.png"), await encodePng(pattern(13, 32, 32)));
  return folder;
}

/** Canonical SFT records (the mix's general data), their images in the file's own store. */
async function writeGeneralFile(): Promise<string> {
  const folder = join(files, "general");
  const store = new ImageStore(folder);
  const records = [];
  for (let i = 0; i < 9; i++) {
    records.push({
      kind: "sft",
      id: `g${i}`,
      images: [await store.put(await encodePng(pattern(20 + i, 32, 32)), "image/png")],
      messages: [
        { role: "user", content: "<image>\nWhat is in the picture?" },
        { role: "assistant", content: `A grey square, number ${i}.` },
      ],
      provenance: { method: "dataset", stage: "general", model: "human" },
    });
  }
  const path = join(folder, "general.jsonl");
  writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

test("STS round 1 over a served model: labelled images and a concepts file, answers written by the endpoint, the run waits (exit 3)", async () => {
  const concepts = join(files, "concepts.json");
  writeFileSync(concepts, JSON.stringify(CONCEPTS));
  const stage = {
    name: "sts-round1",
    type: "sts-round",
    round: 1,
    images: 3,
    labelled: { folder: await writeLabelledFolder() },
    concepts: { file: concepts },
    general: { source: "file", path: await writeGeneralFile(), format: "canonical" },
    scorer,
    describe: { prompts: 1, samples: 2, maxTokens: 8 },
    synthesis: { writer: "policy", temperature: 1, maxTokens: 64 },
    chunkSize: 4,
    ...handOff,
  };
  const out = await runUntilWaiting(writeRecipe("served-sts", url, [stage]), "served-sts", "sts-round1");
  const stageDir = join(out, "stages", "sts-round1");
  const data = join(stageDir, "data");
  const ids = ["circles/1.png", "circles/2.jpg", "crosses/3.png"];

  // The endpoint described every image; the scorer selected each image's concepts from its class's.
  const described = readJson(join(stageDir, "steps", "describe.json")).result;
  assert.deepEqual(
    described.map((d: { id: string }) => d.id),
    ids,
  );
  assert.ok(described.every((d: { descriptions: string[] }) => d.descriptions.length <= 2));
  assert.ok(described.some((d: { descriptions: string[] }) => d.descriptions.length > 0));
  const selected = readJson(join(data, "selected.json"));
  assert.deepEqual(
    selected.map((s: { id: string; label: string }) => [s.id, s.label]),
    ids.map((id) => [id, id.split("/")[0]]),
  );
  for (const s of selected)
    for (const c of s.selected) assert.ok(CONCEPTS[s.label].includes(c.concept), `${s.id}: ${c.concept}`);

  // Answers: written by the endpoint, kept when they name the label; the others dropped.
  const records = readJsonl(join(data, "sts.jsonl"));
  const misses = lines(join(data, "drops.jsonl")).filter((d) => d.reason === "answer-misses-label");
  assert.ok(records.length >= 1, "answers from the endpoint that name the label");
  assert.equal(records.length + misses.length, ids.length * 3, "every image and question type: a record or a drop");
  for (const r of records) {
    const label = r.provenance.source.split("/")[0];
    assert.equal(r.provenance.method, "sts");
    assert.equal(r.provenance.round, 1);
    assert.equal(r.provenance.model, servedName());
    assert.deepEqual(r.provenance.sampling, { temperature: 1, max_tokens: 64 });
    assert.ok(r.provenance.reasons.includes("writer:policy"));
    assert.ok(namesLabel(r.messages[1].content, label), `${r.id} names ${label}`);
    // The record keeps the bare question: neither the label nor the concepts.
    assert.match(r.messages[0].content, /^<image>\n/);
    assert.doesNotMatch(r.messages[0].content, /This is a picture of|visual features:/);
  }

  // The 1:1 mix with the canonical file's conversations, handed off as SFT.
  const train = readJsonl(join(data, "train.jsonl"));
  assert.equal(train.length, 2 * records.length);
  assert.equal(train.filter((r) => r.id.startsWith("general/g")).length, records.length);
  assert.equal(readJsonl(join(stageDir, "export", "trl", "sft.jsonl")).length, train.length);
  assert.equal(readJson(join(stageDir, "steps", "export.json")).result.objective, "sft");
  assert.match(readFileSync(join(out, "run.log"), "utf8"), /sts-round1: round 1: \d+ answers/);
});
