// CSR over a served model, end to end: `selfsynth run` (its own process: real exit codes) runs two
// csr-iteration stages over a real `selfsynth serve` (a tiny random-weights VLM served as "tiny")
// and a folder of images. Iteration 1 searches through the endpoint (sampling proposals), writes
// its pairs and relevance, hands its training off and the run waits (exit code 3); continued with
// the "trained" model's server, iteration 2 searches through that one and waits again: each
// iteration is one hand-off. A recipe that keeps the default diverse-beam proposal over an
// endpoint is refused at start, naming the stage and the option, before the endpoint is asked.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodePng } from "../../src/images/index.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { runRecipe } from "../../src/run/runner.js";
import { readJson, readJsonl } from "../data/fixtures.js";
import { quietDeps, saveTinyScorer, tinyWorldStage } from "../methods/stic/stage-fixtures.js";
import { pattern } from "../serve/fixture.js";
import { type ServeProcess, selfsynthRun, startServe } from "./selfsynth-process.js";

registerBuiltinMethods();

const fx = tinyWorldStage("selfsynth-run-served-csr-");
const images = join(fx.dir, "images");
const servers: ServeProcess[] = [];
let baseUrl = "";
let trainedUrl = "";
let scorer = "";

before(async () => {
  mkdirSync(images, { recursive: true });
  for (const i of [1, 2, 3]) writeFileSync(join(images, `${i}.png`), await encodePng(pattern(i, 32, 32)));
  scorer = saveTinyScorer(fx.dir, fx.base);
  const started = ["tiny", "tiny-trained"].map((name) => startServe(fx.base, { name }));
  for (const s of started) s.then((p) => servers.push(p)).catch(() => {});
  [baseUrl, trainedUrl] = (await Promise.all(started)).map((s) => s.url);
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** A recipe of two CSR iterations over `baseUrls`; `proposal` as given (omitted: the default, diverse-beam). */
function writeRecipe(name: string, baseUrls: string[], proposal?: Record<string, unknown>): string {
  // The random-weights model rarely writes '.': sentences end at 4 tokens, answers at 40 characters.
  const iteration = (n: number) => ({
    name: `csr-iter${n}`,
    type: "csr-iteration",
    images: 3,
    scorer,
    ...(proposal === undefined ? {} : { proposal }),
    maxSentenceTokens: 4,
    maxCharacters: 40,
    chunkSize: 2,
    lora: { r: 4, alpha: 8 },
    train: { lr: 0.001, maxSteps: 2, batchSize: 2 },
  });
  const path = join(fx.dir, `${name}.yaml`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      threads: 1,
      model: { endpoint: { baseUrls, model: "tiny", maxAttempts: 2 } },
      images: { folder: images },
      stages: [iteration(1), iteration(2)],
    }),
  );
  return path;
}

/** The stage's pairs, checked: CSR's, made through `model`, one per image or a drop. */
function checkPairs(stageDir: string, model: string) {
  const data = join(stageDir, "data");
  const pairs = readJsonl(join(data, "pairs.jsonl"));
  const drops = existsSync(join(data, "drops.jsonl")) ? readJsonl(join(data, "drops.jsonl")) : [];
  assert.equal(pairs.length + drops.length, 3, "every image gives a pair or a drop");
  assert.ok(pairs.length >= 1, "pairs from the endpoint");
  for (const p of pairs) {
    assert.equal(p.provenance.method, "csr");
    assert.equal(p.provenance.model, model);
    assert.equal(p.provenance.sampling.proposal_kind, "sampling");
    assert.notEqual(p.chosen, p.rejected);
  }
  assert.equal(readJson(join(data, "relevance.json")).pairs, pairs.length);
  return pairs;
}

test("each CSR iteration over a served model searches through the endpoint, writes its pairs and waits (exit 3)", async () => {
  const recipe = writeRecipe("served-csr", [baseUrl], { kind: "sampling", returned: 2 });
  const out = join(fx.dir, "runs", "served-csr");
  const stage = (n: number) => join(out, "stages", `csr-iter${n}`);

  // 1. Iteration 1 over "tiny": pairs, their export for a trainer elsewhere, the run waits.
  const first = await selfsynthRun([recipe, "--out", out]);
  assert.equal(first.code, 3, first.stderr);
  assert.match(first.stdout, /waiting for stage csr-iter1's model/);
  assert.equal(readJson(join(out, "waiting.json")).stage, "csr-iter1");
  const pairs = checkPairs(stage(1), `http:tiny@${new URL(baseUrl).host}`);
  assert.equal(readJsonl(join(stage(1), "export", "trl", "preference.jsonl")).length, pairs.length);
  assert.ok(!existsSync(join(stage(2), "data")), "iteration 2 waits for iteration 1's model");

  // 2. Continued with the "trained" model's server: iteration 2 searches through it and waits in turn.
  const second = await selfsynthRun([
    recipe,
    "--out",
    out,
    "--continue-with",
    trainedUrl,
    "--continue-model",
    "tiny-trained",
  ]);
  assert.equal(second.code, 3, second.stderr);
  assert.match(second.stdout, /waiting for stage csr-iter2's model/);
  const waiting = readJson(join(out, "waiting.json"));
  assert.equal(waiting.stage, "csr-iter2");
  assert.equal(waiting.inputModel, `endpoint:tiny-trained@${trainedUrl}`);
  assert.equal(readJson(join(stage(1), "stage.json")).model, `endpoint:tiny-trained@${trainedUrl}`);
  checkPairs(stage(2), `http:tiny-trained@${new URL(trainedUrl).host}`);
  assert.ok(existsSync(join(stage(2), "export", "TRAIN.md")));
  assert.match(
    readFileSync(join(out, "run.log"), "utf8"),
    /stage csr-iter2 \(csr-iteration, seed \d+\): from endpoint:tiny-trained/,
  );
});

test("diverse-beam over a served model is refused at start, naming the stage and the option", async () => {
  // Port 9 answers nothing: the refusal comes before the endpoint is asked anything.
  const recipe = writeRecipe("served-beam", ["http://127.0.0.1:9/v1"]);
  await assert.rejects(
    runRecipe({ recipePath: recipe, out: join(fx.dir, "runs", "served-beam"), deps: quietDeps() }),
    /stages\[0\] csr-iter1 \(csr-iteration\) cannot run over the endpoint model tiny at http:\/\/127\.0\.0\.1:9\/v1: its proposal\.kind diverse-beam .*set proposal: \{ kind: sampling \}/,
  );
});
