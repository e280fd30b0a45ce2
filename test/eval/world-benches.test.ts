import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, mock, test } from "node:test";
import { promisify } from "node:util";
import { Command } from "commander";
import { registerEval } from "../../src/cli/commands/eval.js";
import { setNumThreads } from "../../src/engine/index.js";
import { BENCH_NAMES, type BenchName } from "../../src/eval/benches.js";
import type { CapabilityItem } from "../../src/eval/capabilities.js";
import type { ChairItem } from "../../src/eval/chair.js";
import { objectStatistics, type PopeItem } from "../../src/eval/pope.js";
import { runBenchmark } from "../../src/eval/runner.js";
import { parseSpeciesAnswer, type SpeciesItem } from "../../src/eval/species.js";
import type { EvalItem } from "../../src/eval/types.js";
import { conceptPhrases, loadWorldBench, WorldImages, worldVocabulary } from "../../src/eval/world-benches.js";
import {
  buildSplit,
  CONCEPTS,
  type CreatureRecord,
  caption,
  creatureDescription,
  describe,
  parseWorldConfig,
  Rng,
  type SceneRecord,
  SPECIES,
  sampleCreature,
  type WorldRecord,
} from "../../src/world/index.js";
import { saveTinyVLM } from "../backends/tiny-model.js";
import { FakeBackend } from "./fake-backend.js";

setNumThreads(1);

// A tiny world: enough scenes for POPE statistics, a few test and validation items.
const config = parseWorldConfig({
  seed: 5,
  splits: {
    pretraining: { scenes: 0, creatures: 0 },
    instruction: { scenes: 30, creatures: 2 },
    pool: { scenes: 0, creatures: 0 },
    validation: { scenes: 3, creatures: 2, questionsPerImage: 2 },
    test: { scenes: 6, creatures: 5 },
  },
});

let world: string;
let testRecords: WorldRecord[];
const scratch: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
const jsonl = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

before(async () => {
  world = tmp("world-benches-");
  for (const split of ["instruction", "validation", "test"] as const)
    await buildSplit(config, { split, outDir: world });
  testRecords = jsonl(join(world, "test.jsonl"));
});
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

const scenes = () => testRecords.filter((r): r is SceneRecord => r.kind === "scene");
const creatures = () => testRecords.filter((r): r is CreatureRecord => r.kind === "creature");
const record = (id: string) => testRecords.find((r) => r.id === id)!;
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

test("every bench loads from the test split with the records' ground truth and image bytes", () => {
  const images = new WorldImages(world);
  // POPE: per image min(3, distinct objects, absent candidates) present + as many absent.
  const trainStats = objectStatistics(jsonl(join(world, "instruction.jsonl")).filter((r) => r.kind === "scene"));
  for (const name of ["pope-random", "pope-popular", "pope-adversarial"] as const) {
    const { items, statsSource } = loadWorldBench(name, world);
    assert.equal(statsSource?.endsWith("instruction.jsonl") ?? false, name !== "pope-random");
    const expected = scenes().reduce((n, r) => n + 2 * Math.min(3, new Set(r.objects).size, 10 - r.objects.length), 0);
    assert.equal(items.length, expected, name);
    const byImage = new Map<string, EvalItem["image"]>();
    for (const item of items as PopeItem[]) {
      const present = (record(item.imageId) as SceneRecord).objects.includes(item.object);
      assert.equal(item.label, present ? "yes" : "no", `${item.id}: ${item.object}`);
      assert.equal(item.image, byImage.get(item.imageId) ?? item.image); // read once per image
      byImage.set(item.imageId, item.image);
      assert.deepEqual(item.image.bytes, images.read(record(item.imageId).image).bytes);
    }
    if (name === "pope-popular") {
      // Absent objects are the most frequent training objects the image lacks.
      const first = scenes()[0];
      const ranked = [...trainStats.frequency.entries()]
        .filter(([o]) => !first.objects.includes(o))
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([o]) => o);
      const absent = (items as PopeItem[]).filter((i) => i.imageId === first.id && i.label === "no");
      assert.deepEqual(
        absent.map((i) => i.object),
        ranked.slice(0, absent.length),
      );
    }
  }

  const chair = loadWorldBench("chair", world);
  assert.equal(chair.items.length, scenes().length);
  for (const [i, item] of (chair.items as ChairItem[]).entries()) {
    const r = scenes()[i];
    assert.equal(item.id, r.id);
    assert.deepEqual(chair.bench.groundTruth(item), { objects: r.objects });
    assert.deepEqual(Buffer.from(item.image.bytes), readFileSync(join(world, r.image)));
    assert.equal(item.image.mimeType, "image/png");
  }

  const caps = loadWorldBench("capabilities", world);
  const questions = scenes().flatMap((r) => r.questions!.map((q, i) => ({ id: `${r.id}/q${i}`, ...q })));
  assert.ok(questions.length > scenes().length);
  assert.deepEqual(
    (caps.items as CapabilityItem[]).map((i) => [i.id, i.question, i.answer, i.capabilities, i.k]),
    questions.map((q) => [q.id, q.question, q.answer, q.capabilities, q.k]),
  );

  const species = loadWorldBench("species", world);
  assert.deepEqual(
    (species.items as SpeciesItem[]).map((i) => species.bench.groundTruth(i)),
    creatures().map((r) => ({ species: r.species, visible_features: r.visibleConcepts, held_out: r.heldOut })),
  );
});

test("--split validation reads the validation records, never test", () => {
  for (const name of BENCH_NAMES) {
    const { items, split } = loadWorldBench(name, world, { split: "validation" });
    assert.equal(split, "validation");
    assert.ok(items.length > 0, name);
    assert.ok(
      items.every((i) => i.imageId.startsWith("validation-")),
      name,
    );
  }
});

/** What a model that knows the truth would say, in the world's own language. */
function perfectAnswers(name: BenchName, items: readonly EvalItem[]): Record<string, string> {
  const answer = (item: EvalItem, i: number): string => {
    const r = record(item.imageId);
    if (name.startsWith("pope-")) {
      const { label, object } = item as PopeItem;
      return label === "yes" ? `Yes, there is a ${object} in the image.` : `No, there is no ${object}.`;
    }
    if (name === "chair") {
      // The world's describe with every object word replaced by a synonym (half the items) or
      // its caption with synonyms and plurals ("two red discs"); the record's own description too.
      const scene = (r as SceneRecord).scene;
      const rng = new Rng(i + 1);
      return i % 2 === 0
        ? `${describe(scene, rng, { synonymRate: 1 })} ${(r as SceneRecord).description}`
        : caption(scene, rng, { synonymRate: 1 });
    }
    if (name === "capabilities") return `${capitalize((item as CapabilityItem).answer)}.`;
    // species: the record's description (creatureDescription) or the explanation answer.
    const c = r as CreatureRecord;
    return i % 2 === 0 ? c.description! : c.questions!.find((q) => q.task === "explain")!.answer;
  };
  return Object.fromEntries(items.map((item, i) => [item.id, answer(item, i)]));
}

test("a perfect backend answering in the world's language gets perfect scores on every bench", async () => {
  const out = tmp("world-benches-run-");
  for (const name of BENCH_NAMES) {
    const { bench, items } = loadWorldBench(name, world);
    const backend = new FakeBackend(perfectAnswers(name, items));
    const { metrics } = await runBenchmark({ backend, bench, items, outDir: out });
    if (name.startsWith("pope-")) {
      assert.deepEqual(metrics, { accuracy: 1, precision: 1, recall: 1, f1: 1, yes_ratio: 0.5 }, name);
    } else if (name === "chair") {
      assert.equal(metrics.chair_i, 0);
      assert.equal(metrics.chair_s, 0);
      assert.equal(metrics.coverage, 1);
    } else if (name === "capabilities") {
      assert.equal(metrics.accuracy, 1);
      for (const cell of Object.values(metrics.by_k as Record<string, { accuracy: number }>)) {
        assert.equal(cell.accuracy, 1);
      }
    } else {
      assert.deepEqual(metrics, {
        accuracy: 1,
        explanation_rate: 1,
        concept_precision: 1,
        concept_recall: 1,
        accuracy_known: 1,
        accuracy_held_out: 1,
        explanation_rate_known: 1,
        concept_precision_known: 1,
        concept_recall_known: 1,
        explanation_rate_held_out: 1,
        concept_precision_held_out: 1,
        concept_recall_held_out: 1,
      });
    }
  }
});

test("world concept phrases: every concept of every species is found in its description, hidden parts are not", () => {
  const vocab = worldVocabulary().species!;
  // Hand-checked: the world writes "a fan tail" and "spots on its body"; the table keeps the
  // phrase without its article and adds "spotted"/"striped".
  assert.deepEqual(conceptPhrases(CONCEPTS.find((c) => c.id === "tail:fan")!), ["fan tail"]);
  assert.deepEqual(
    parseSpeciesAnswer("This is a bosk. It has a round body, a red body and spots on its body.", vocab),
    {
      species: "bosk",
      features: ["body:round", "color:red", "pattern:spots"],
    },
  );
  assert.deepEqual(parseSpeciesAnswer("A striped jorun with fan tails. Its tail and wings cannot be seen.", vocab), {
    species: "jorun",
    features: ["pattern:stripes", "tail:fan"],
  });
  for (const sp of SPECIES) {
    const allVisible = { ...sampleCreature(config, new Rng(1), sp.name), visibleConcepts: sp.concepts };
    const hidden = { ...allVisible, visibleConcepts: sp.concepts.slice(0, 1), hiddenConcepts: sp.concepts.slice(1) };
    assert.deepEqual(parseSpeciesAnswer(creatureDescription(allVisible), vocab), {
      species: sp.name,
      features: sp.concepts,
    });
    assert.deepEqual(parseSpeciesAnswer(creatureDescription(hidden), vocab).features, sp.concepts.slice(0, 1));
  }
});

test("image paths outside the world directory are refused; missing inputs are explained", () => {
  const images = new WorldImages(world);
  for (const bad of ["../x.png", "images/../../x.png", "/etc/passwd", "."]) {
    assert.throws(() => images.resolvePath(bad), /leaves the world directory/, bad);
  }
  assert.equal(images.resolvePath("images/a/../b.png"), join(world, "images", "b.png"));

  // A copied world whose record points outside it, and without a training split.
  const copy = tmp("world-benches-copy-");
  cpSync(join(world, "images"), join(copy, "images"), { recursive: true });
  const lines = readFileSync(join(world, "test.jsonl"), "utf8").trim().split("\n");
  const escaped = { ...JSON.parse(lines[0]), image: "../../secret.png" };
  writeFileSync(join(copy, "test.jsonl"), [JSON.stringify(escaped), ...lines.slice(1)].join("\n"));
  assert.throws(() => loadWorldBench("chair", copy), /image path '..\/..\/secret.png' leaves the world directory/);
  writeFileSync(join(copy, "test.jsonl"), `${lines.join("\n")}\n`);
  assert.ok(loadWorldBench("pope-random", copy).items.length > 0); // random needs no statistics
  assert.throws(() => loadWorldBench("pope-adversarial", copy), /has no instruction.jsonl or pretraining.jsonl/);
  // A tampered image no longer matches its record's sha256.
  writeFileSync(join(copy, scenes()[0].image), "not a png");
  assert.throws(() => loadWorldBench("chair", copy), /does not match its record's sha256/);
  // A bad record names its file and line; a missing split says how to build it.
  writeFileSync(join(copy, "test.jsonl"), `${lines[0]}\n{"kind": "scene", "id": 3}\n`);
  assert.throws(() => loadWorldBench("chair", copy), /test\.jsonl line 2: not a world record/);
  mkdirSync(join(copy, "empty"));
  assert.throws(
    () => loadWorldBench("chair", join(copy, "empty"), { split: "validation" }),
    /validation\.jsonl not found; build it with: selfsynth world build .* --split validation/,
  );
});

test("selfsynth eval runs every bench on the tiny world with a tiny random VLM", async () => {
  const model = saveTinyVLM();
  scratch.push(model.dir);
  const out = tmp("world-benches-cli-");
  const log = mock.method(console, "log", () => {});
  try {
    for (const name of BENCH_NAMES) {
      const program = new Command().exitOverride();
      registerEval(program);
      const args = ["eval", "--model", model.dir, "--bench", name, "--data", world, "--limit", "2"];
      await program.parseAsync([...args, "--json", "--max-tokens", "4", "--out", out], { from: "user" });
      const last = JSON.parse(String(log.mock.calls.at(-1)!.arguments[0]));
      const { bench } = loadWorldBench(name, world);
      assert.equal(last.bench, name);
      assert.deepEqual(Object.keys(last.metrics), Object.keys(bench.metricInfo));
      assert.equal(JSON.parse(readFileSync(join(out, `${name}.json`), "utf8")).n, 2);
    }
  } finally {
    log.mock.restore();
  }
  // The installed command line (src/cli/main.ts) with the validation split, in its own process.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      ...["--import", "tsx", "src/cli/main.ts", "eval", "--model", model.dir, "--bench", "pope-adversarial"],
      ...["--data", world, "--split", "validation", "--limit", "2", "--max-tokens", "4", "--threads", "1"],
      ...["--json", "--out", out],
    ],
    { cwd: join(import.meta.dirname, "..", ".."), env: { ...process.env, OMP_NUM_THREADS: "1" } },
  );
  const last = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.equal(last.bench, "pope-adversarial");
  assert.deepEqual(Object.keys(last.metrics), ["accuracy", "precision", "recall", "f1", "yes_ratio"]);
  const records = jsonl(join(out, "pope-adversarial.records.jsonl"));
  assert.ok(records.every((r) => r.image_id.startsWith("validation-")));
});
