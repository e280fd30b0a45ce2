// The compact-sft stage end to end on the tiny world and random-weights VLM of STIC's stage tests
// (the real runner, the world teacher, the trainer): each arm's training file has the budget's
// records (COMPACT conversations and general examples in the compact arm; general examples only
// in the others), every drop is reason-coded, a rerun after a kill asks the teacher for nothing
// it answered, and a budget the teacher cannot fill is an error that says what to change.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { readDrops } from "../../../src/methods/common/chunked-records.js";
import { generalExamples, instructionBasis } from "../../../src/methods/compact/data-budget.js";
import { DROP_REASONS } from "../../../src/methods/compact/synthesize.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { buildSplit } from "../../../src/world/build.js";
import { loadWorldConfig } from "../../../src/world/config.js";
import { quietDeps, tinyWorldStage } from "../stic/stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

const { dir, world, worldDir, base } = tinyWorldStage("compact-stages-", 320);
/** The tiny world's general instruction examples (the budget's denominator). */
let examples: number;
before(async () => {
  await buildSplit(loadWorldConfig(world), { split: "instruction", outDir: worldDir });
  examples = generalExamples(instructionBasis(worldDir)).length;
});

interface Arm {
  data?: "compact" | "random-subset" | "full-budget";
  k?: number;
  /** Records of the arm, and general ones among them (as counts; the fractions are derived). */
  total: number;
  general: number;
  benches?: string[];
}

function writeRecipe(name: string, arm: Arm): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `name: compact-test
seed: 0
threads: 1
world: { config: ${world}, dir: ${worldDir} }
model: ${base}
eval: { benches: [${(arm.benches ?? []).join(", ")}], limit: 3, batchSize: 2 }
stages:
  - name: compact
    type: compact-sft
    data: ${arm.data ?? "compact"}
    k: ${arm.k ?? "per-question"}
    budget: { fraction: ${arm.total / examples}, general: ${arm.general / examples} }
    chunkSize: 2
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`,
  );
  return path;
}

const data = (run: string) => join(run, "stages", "compact", "data");
const train = (run: string) => readRecords(join(data(run), "train.jsonl"), "sft", { root: data(run) });
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const isGeneral = (id: string) => id.includes("/");

test("the compact arm: COMPACT conversations plus general examples at the budget, trained, evaluated", async () => {
  const run = join(dir, "compact");
  const lines: string[] = [];
  const recipe = writeRecipe("compact", { total: 4, general: 2, benches: ["capabilities"] });
  await runRecipe({ recipePath: recipe, out: run, deps: quietDeps(lines) });

  const records = train(run);
  assert.equal(records.length, 4);
  const compact = records.filter((r) => !isGeneral(r.id));
  const general = records.filter((r) => isGeneral(r.id));
  assert.equal(compact.length, 2);
  assert.equal(general.length, 2);
  for (const r of compact) {
    assert.match(r.id, /^instruction-s\d{6}$/, "an instruction scene");
    assert.ok(r.messages.length === 4 || r.messages.length === 6, "2 or 3 questions");
    assert.match(r.messages[0].content, /^<image>\n.+\nAnswer the question using a single word or phrase\.$/);
    for (let i = 2; i < r.messages.length; i += 2) assert.ok(!r.messages[i].content.includes("<image>"));
    assert.equal(r.provenance.model, "world:composer");
    assert.equal(r.provenance.reasons?.length, r.messages.length / 2);
  }
  for (const r of general) {
    assert.match(r.id, /^instruction-[sc]\d{6}\/(description|question-\d+)$/);
    assert.deepEqual(r.provenance.reasons, ["general-instruction"]);
  }
  // Every drop reason-coded; attempts as parts of images.
  const drops = readDrops(join(data(run), "drops.jsonl"));
  for (const d of drops) assert.ok((DROP_REASONS as readonly string[]).includes(d.reason), d.reason);
  assert.ok(
    drops.every((d) => /^instruction-s\d{6}(\/attempt-\d)?$/.test(d.itemId)),
    "image or attempt ids",
  );
  assert.ok(lines.some((l) => l.includes("trains on 4 records (2 COMPACT, 2 general;")));
  assert.ok(lines.some((l) => /COMPACT \(teacher world:composer\): \d+ conversations; drops/.test(l)));

  const metrics = readMetrics(join(run, "stages", "compact", "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.rounds.map((r) => r.name),
    ["base", "compact"],
  );
  assert.ok("accuracy_k1" in report.rounds[1].metrics.capabilities);

  // Killed after the COMPACT conversations, before the mix and training finished: the rerun asks
  // the teacher for nothing (the conversations and drops stay byte for byte) and ends the same.
  const stage = join(run, "stages", "compact");
  const compactBytes = readFileSync(join(data(run), "compact.jsonl"), "utf8");
  const dropBytes = readFileSync(join(data(run), "drops.jsonl"), "utf8");
  const trainBytes = readFileSync(join(data(run), "train.jsonl"), "utf8");
  const model = sha256(join(stage, "model", "model.safetensors"));
  for (const file of ["stage.json", "steps/records.json", "steps/train.json", "data/train.jsonl"])
    rmSync(join(stage, file));
  rmSync(join(stage, "model"), { recursive: true });
  await runRecipe({ recipePath: recipe, out: run, deps: quietDeps() });
  assert.equal(readFileSync(join(data(run), "compact.jsonl"), "utf8"), compactBytes);
  assert.equal(readFileSync(join(data(run), "drops.jsonl"), "utf8"), dropBytes);
  assert.equal(readFileSync(join(data(run), "train.jsonl"), "utf8"), trainBytes);
  assert.equal(sha256(join(stage, "model", "model.safetensors")), model);
});

test("k1-only: COMPACT questions of one capability each", async () => {
  const run = join(dir, "k1");
  const lines: string[] = [];
  await runRecipe({ recipePath: writeRecipe("k1", { k: 1, total: 3, general: 1 }), out: run, deps: quietDeps(lines) });
  const compact = train(run).filter((r) => !isGeneral(r.id));
  assert.equal(compact.length, 2);
  const questions = compact.reduce((n, r) => n + r.messages.length / 2, 0);
  assert.ok(lines.some((l) => l.includes(`COMPACT questions by k {"1":${questions}}`)));
  for (const r of compact)
    assert.ok(
      r.provenance.reasons?.every((reason) => /^k1:[a-z_]+$/.test(reason)),
      r.provenance.reasons?.join(" "),
    );
});

test("random-subset: the budget's records, all general; full-budget: every general example", async () => {
  const subset = join(dir, "subset");
  await runRecipe({
    recipePath: writeRecipe("subset", { data: "random-subset", total: 4, general: 2 }),
    out: subset,
    deps: quietDeps(),
  });
  const records = train(subset);
  assert.equal(records.length, 4);
  assert.ok(records.every((r) => isGeneral(r.id)));
  assert.ok(!existsSync(join(data(subset), "compact.jsonl")), "no teacher asked");

  const full = join(dir, "full");
  await runRecipe({
    recipePath: writeRecipe("full", { data: "full-budget", total: 4, general: 2 }),
    out: full,
    deps: quietDeps(),
  });
  const all = train(full);
  assert.equal(all.length, examples);
  assert.deepEqual(
    all.map((r) => r.id),
    generalExamples(instructionBasis(worldDir)).map((e) => e.id),
  );
});

test("a budget the teacher cannot fill from the instruction scenes is an error naming the fix", async () => {
  // The tiny world has 4 instruction scenes: 10 conversations cannot be made.
  const recipe = writeRecipe("too-big", { total: 12, general: 2 });
  await assert.rejects(
    runRecipe({ recipePath: recipe, out: join(dir, "too-big"), deps: quietDeps() }),
    /fewer than the budget's 10; lower budget.fraction or raise instructionImages/,
  );
});
