// The compact-sft stage end to end on the tiny world and random-weights VLM of STIC's stage tests
// (the real runner, the world teacher, the trainer): each arm's training file has the budget's
// records (COMPACT conversations and general examples in the compact arm; general examples only
// in the others), every drop is reason-coded, a rerun after a kill asks the teacher for nothing
// it answered, and a budget the teacher cannot fill is an error that says what to change. On the
// user's data, without a world: the recipe's images: asked about by a served teacher (a fake
// OpenAI-compatible server here), the general examples and the budget from a sharegpt file.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { encodePng } from "../../../src/images/index.js";
import { readDrops } from "../../../src/methods/common/chunked-records.js";
import { generalExamples, instructionBasis } from "../../../src/methods/compact/data-budget.js";
import { DROP_REASONS } from "../../../src/methods/compact/synthesize.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { resolveRecipe } from "../../../src/run/recipe.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { getStageKind } from "../../../src/run/stage-kind.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { buildSplit } from "../../../src/world/build.js";
import { loadWorldConfig } from "../../../src/world/config.js";
import { readJsonl, shareGptLine, solid } from "../../data/fixtures.js";
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

// --- on the user's data -------------------------------------------------------------------------

const own = join(dir, "own");
const pictures = join(own, "pictures");
const generalFile = join(own, "general.jsonl");
/** The fake teacher's requests: question requests (with an image) and verifications (text only). */
const asked = { questions: 0, verifications: 0 };
let teacher: Server;
let teacherUrl = "";

/** A served teacher that always writes a confident question and verifies it with the asked capabilities. */
function startTeacher(): Promise<string> {
  const questions = [
    "How many circles are there?",
    "What colour is the large square?",
    "Which shape sits in the top left corner?",
    "Is the star touching the heart?",
  ];
  teacher = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      const send = (content: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(content));
      };
      if (req.url === "/v1/models") return send({ data: [{ id: "teacher" }] });
      const verify = /no other major one: ([a-z_, ]+)\?/.exec(body);
      // Besides the teacher's two requests, the backend's probes of what the server serves ("Hello").
      let reply: unknown = "ok";
      if (verify !== null) {
        asked.verifications++;
        reply = { valid: true, reason: "ok", capabilities_used: verify[1].split(", ") };
      } else if (body.includes("Write one question about this image") && body.includes("image_url")) {
        reply = { question: questions[asked.questions++ % questions.length], answer: "two", confidence: 90 };
      }
      const n = (JSON.parse(body) as { n?: number }).n ?? 1;
      const message = { role: "assistant", content: typeof reply === "string" ? reply : JSON.stringify(reply) };
      send({
        id: "x",
        object: "chat.completion",
        model: "teacher",
        choices: Array.from({ length: n }, (_, index) => ({ index, message, finish_reason: "stop" })),
      });
    });
  });
  return new Promise((resolve) =>
    teacher.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(teacher.address() as { port: number }).port}/v1`),
    ),
  );
}

before(async () => {
  mkdirSync(join(pictures, "more"), { recursive: true });
  writeFileSync(join(pictures, "a.png"), await encodePng(solid(32, 32, [200, 30, 30])));
  writeFileSync(join(pictures, "b.png"), await encodePng(solid(40, 30, [30, 200, 30])));
  writeFileSync(join(pictures, "more", "c.png"), await encodePng(solid(24, 24, [30, 30, 200])));
  writeFileSync(join(pictures, "broken.png"), "not a png");
  mkdirSync(join(own, "coco"));
  writeFileSync(join(own, "coco", "mug.png"), await encodePng(solid(32, 32, [120, 60, 10])));
  const entries = Array.from({ length: 10 }, (_, i) => ({
    id: `g${i}`,
    messages: [
      { role: "user", content: [{ type: "image" }, { type: "text", text: `What is on table ${i}?` }] },
      { role: "assistant", content: "A mug." },
      ...(i % 2 === 0
        ? [
            { role: "user", content: "What colour is it?" },
            { role: "assistant", content: "Brown." },
          ]
        : []),
    ],
    images: ["coco/mug.png"],
  }));
  const lines = [
    ...entries,
    {
      id: "pair",
      conversations: [
        { from: "human", value: "<image><image>Same?" },
        { from: "gpt", value: "No." },
      ],
      images: ["coco/mug.png", "coco/mug.png"],
    },
  ];
  writeFileSync(generalFile, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  teacherUrl = await startTeacher();
});
after(() => teacher?.close());

/** COMPACT on the recipe's images and the general file, no world; 10 usable conversations: total 5, general 2, COMPACT 3. */
function ownRecipe(name: string, o: { data?: string; general?: string } = {}): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `name: compact-own
seed: 0
threads: 1
model: ${base}
images: { folder: ${pictures} }
stages:
  - name: compact
    type: compact-sft
    data: ${o.data ?? "compact"}
    general: { source: file, path: ${o.general ?? generalFile}, format: sharegpt }
    budget: { fraction: 0.5, general: 0.2 }
    teacher: { kind: served, backend: { baseUrls: [${teacherUrl}], model: teacher } }
    filters: { duplicateOverlap: 1 }
    chunkSize: 2
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`,
  );
  return path;
}

test("recipe load: a general file and images: need no world; the world teacher beside images: is refused naming the option", () => {
  const served = { kind: "served", backend: { baseUrls: ["http://127.0.0.1:9/v1"], model: "t" } };
  const general = { source: "file", path: "g.json", format: "llava" };
  const doc = (stage: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: "r",
    model: "m",
    stages: [{ name: "c", type: "compact-sft", ...stage }],
    ...extra,
  });
  const message = (d: Record<string, unknown>) => {
    try {
      resolveRecipe(d, "r.yaml");
    } catch (error) {
      return (error as Error).message;
    }
    return "no error";
  };
  const kind = getStageKind("compact-sft");
  const r = resolveRecipe(doc({ general, teacher: served }, { images: { folder: "p" } }), "r.yaml");
  assert.equal(r.world, undefined);
  assert.deepEqual(kind.needsSplits?.(r.stages[0], { world: false, images: true }), []);
  // Without images: the teacher's images are the instruction split's scenes.
  assert.match(
    message(doc({ general, teacher: served })),
    /r\.yaml: world: required: stage c \(compact-sft\) reads SceneWorld's instruction split; add world:/,
  );
  // The arms without COMPACT read no images at all.
  resolveRecipe(doc({ general, data: "random-subset" }), "r.yaml");
  resolveRecipe(doc({ general, data: "full-budget" }), "r.yaml");
  // The default (the world's general examples) still needs the world, images: or not.
  assert.match(
    message(doc({ teacher: served }, { images: { folder: "p" } })),
    /world: required: stage c \(compact-sft\) reads SceneWorld's instruction split/,
  );
  assert.match(
    message(doc({ general }, { images: { folder: "p" } })),
    /r\.yaml: stages\[0\]\.teacher: stage c \(compact-sft\): the COMPACT questions are written about the recipe's images:, and the world teacher composes them from SceneWorld's scene graphs, which those images lack; use teacher: \{ kind: served/,
  );
  assert.match(
    message(doc({ general, teacher: served, instructionImages: 10 }, { images: { folder: "p" } })),
    /stages\[0\]\.instructionImages: stage c \(compact-sft\): limits the instruction split, which this stage does not read/,
  );
});

test("the compact arm on images: and a sharegpt file: the served teacher's conversations plus the file's, at the file's budget", async () => {
  const run = join(dir, "own");
  const lines: string[] = [];
  asked.questions = 0;
  await runRecipe({ recipePath: ownRecipe("own"), out: run, deps: quietDeps(lines) });
  assert.ok(
    lines.some((l) =>
      l.includes(
        `${generalFile}: 10 general conversations of 11; dropped {"multi-image":1}; budget 5 records (3 COMPACT + 2 general)`,
      ),
    ),
  );

  const records = train(run);
  const compact = records.filter((r) => !r.id.startsWith("general/"));
  const general = records.filter((r) => r.id.startsWith("general/"));
  assert.deepEqual(compact.map((r) => r.id).sort(), ["a.png", "b.png", "more/c.png"]);
  for (const r of compact) {
    assert.ok(r.messages.length === 4 || r.messages.length === 6, "2 or 3 questions");
    assert.match(r.messages[0].content, /^<image>\n.+\nAnswer the question using a single word or phrase\.$/);
    assert.match(r.provenance.model, /teacher/);
    assert.equal(r.provenance.source, join(pictures, r.id));
  }
  assert.equal(general.length, 2);
  for (const r of general) {
    assert.match(r.id, /^general\/g\d$/);
    assert.equal(r.messages.length, Number(r.id.slice(-1)) % 2 === 0 ? 4 : 2, "whole conversations");
    assert.equal(r.provenance.model, `dataset:${generalFile}`);
  }
  assert.ok(asked.questions >= 6 && asked.verifications === asked.questions);
  const drops = readDrops(join(data(run), "drops.jsonl"));
  assert.deepEqual(drops, [{ itemId: "broken.png", reason: "not_an_image" }], "the broken file, reason-coded");
  assert.deepEqual(readJsonl(join(data(run), "general-drops.jsonl")), [
    { itemId: "general/pair", reason: "multi-image" },
  ]);
  assert.ok(existsSync(join(run, "stages", "compact", "model", "model.safetensors")));
});

test("random-subset and full-budget count the file's conversations; a bad general image stops the stage before the teacher is asked", async () => {
  const subset = join(dir, "own-subset");
  await runRecipe({ recipePath: ownRecipe("own-subset", { data: "random-subset" }), out: subset, deps: quietDeps() });
  assert.equal(train(subset).length, 5);
  assert.ok(train(subset).every((r) => r.id.startsWith("general/")));
  const full = join(dir, "own-full");
  await runRecipe({ recipePath: ownRecipe("own-full", { data: "full-budget" }), out: full, deps: quietDeps() });
  assert.deepEqual(
    train(full).map((r) => r.id),
    Array.from({ length: 10 }, (_, i) => `general/g${i}`),
  );

  writeFileSync(join(own, "coco", "broken.png"), "not a png");
  const bad = join(own, "bad.jsonl");
  const entry = shareGptLine;
  // 10 conversations, general 0.2: 2 drawn; both on the broken image, so whichever are drawn fail.
  writeFileSync(bad, `${Array.from({ length: 10 }, (_, i) => entry(`b${i}`, "coco/broken.png")).join("\n")}\n`);
  asked.questions = 0;
  const run = join(dir, "own-bad");
  await assert.rejects(
    runRecipe({ recipePath: ownRecipe("own-bad", { general: bad }), out: run, deps: quietDeps() }),
    new RegExp(`${bad} line \\d+ \\(id "b\\d"\\): image`),
  );
  assert.equal(asked.questions, 0, "the teacher was not asked");
  assert.ok(!existsSync(join(data(run), "compact.jsonl")));
  assert.ok(!existsSync(join(data(run), "train.jsonl")));
});
