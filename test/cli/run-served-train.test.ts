// Training when the model is served, end to end: `selfsynth run` (its own process, so that its exit
// codes are the real ones) runs STIC's stage 1, not dataOnly, over a real `selfsynth serve` (a tiny
// random-weights VLM served as "tiny") and a folder of PNG and JPEG files written here. The stage
// makes its pairs, hands its training off (export/ with TRL and LLaMA-Factory data and configs) and
// the run waits: exit code 3 and the waiting message. A second server (the same weights served as
// "tiny-trained": the "trained" model) continues it with --continue-with; before that, a refused
// URL is an error naming it and the run still waits; after, a finished run refuses --continue-with.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, mock, test } from "node:test";
import { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { registerRun } from "../../src/cli/commands/run.js";
import { encodeJpeg, encodePng } from "../../src/images/index.js";
import { registerBuiltinMethods } from "../../src/methods/index.js";
import { tinyWorldStage } from "../methods/stic/stage-fixtures.js";
import { pattern } from "../serve/fixture.js";
import { type ServeProcess, selfsynthRun, startServe } from "./selfsynth-process.js";

const fx = tinyWorldStage("selfsynth-run-served-train-");
const images = join(fx.dir, "images");
const servers: ServeProcess[] = [];

let baseUrl = "";
let trainedUrl = "";

before(async () => {
  mkdirSync(images, { recursive: true });
  writeFileSync(join(images, "a.png"), await encodePng(pattern(1, 32, 32)));
  writeFileSync(join(images, "b.jpg"), await encodeJpeg(pattern(2, 40, 30)));
  writeFileSync(join(images, "c.png"), await encodePng(pattern(3, 24, 24)));
  writeFileSync(join(images, "d.jpeg"), await encodeJpeg(pattern(4, 32, 32)));
  const started = ["tiny", "tiny-trained"].map((name) => startServe(fx.base, { name }));
  for (const s of started) s.then((p) => servers.push(p)).catch(() => {});
  [baseUrl, trainedUrl] = (await Promise.all(started)).map((s) => s.url);
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

/** `selfsynth run ARGS` in this process (faster): what it printed and the exit code it set. */
async function selfsynthRunHere(args: string[]): Promise<{ printed: string[]; exitCode: number | undefined }> {
  const printed: string[] = [];
  let exitCode: number | undefined;
  const err = mock.method(process.stderr, "write", () => true);
  try {
    const program = new Command().exitOverride();
    registerRun(program, {
      registerKinds: registerBuiltinMethods,
      print: (line) => printed.push(line),
      setExitCode: (code) => {
        exitCode = code;
      },
    });
    await program.parseAsync(["run", ...args], { from: "user" });
  } finally {
    err.mock.restore();
  }
  return { printed, exitCode };
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const readJsonl = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test("a served model's training stage waits (exit 3), and --continue-with a served trained model finishes the run", async () => {
  const recipe = join(fx.dir, "served.yaml");
  writeFileSync(
    recipe,
    JSON.stringify({
      name: "served",
      threads: 1,
      model: { endpoint: { baseUrls: [baseUrl], model: "tiny", maxAttempts: 2 } },
      images: { folder: images },
      stages: [
        {
          name: "stic-stage1",
          type: "stic-preferences",
          images: 4,
          generation: { maxTokens: 6, chunkSize: 2 },
          dpo: { beta: 0.2 },
          lora: { r: 4, alpha: 8 },
          train: { lr: 0.001, maxSteps: 2, batchSize: 2 },
        },
      ],
    }),
  );
  const out = join(fx.dir, "runs", "served");
  const stageDir = join(out, "stages", "stic-stage1");
  const exportDir = join(stageDir, "export");
  const message = `run ${out}: waiting for stage stic-stage1's model: train it with ${join(exportDir, "TRAIN.md")}, serve it, then: selfsynth run ${recipe} --out ${out} --continue-with http://HOST:PORT/v1 [--continue-model NAME]`;

  // 1. The stage makes its pairs over the served model, hands its training off; the run waits.
  const first = await selfsynthRun([recipe, "--out", out]);
  assert.equal(first.code, 3, first.stderr);
  assert.ok(first.stdout.split("\n").includes(message), first.stdout);
  const waiting = readJson(join(out, "waiting.json"));
  assert.equal(waiting.stage, "stic-stage1");
  assert.equal(waiting.inputModel, `endpoint:tiny@${baseUrl}`);
  assert.equal(readJson(join(out, "manifest.json")).status, "waiting");
  assert.ok(!existsSync(join(stageDir, "stage.json")));
  const pairs = readJsonl(join(stageDir, "data", "pairs.jsonl"));
  assert.ok(pairs.length >= 1);
  // The export: TRL JSONL rows with their fields and images, Parquet, LLaMA-Factory, configs, TRAIN.md.
  const rows = readJsonl(join(exportDir, "trl", "preference.jsonl"));
  assert.equal(rows.length, pairs.length);
  for (const row of rows) {
    assert.deepEqual(Object.keys(row), ["prompt", "chosen", "rejected", "images"]);
    assert.equal(row.prompt.at(-1).role, "user");
    assert.deepEqual(row.prompt.at(-1).content[0], { type: "image" });
    assert.equal(row.chosen[0].role, "assistant");
    assert.equal(typeof row.rejected[0].content[0].text, "string");
    assert.equal(row.images.length, 1);
    assert.ok(existsSync(join(exportDir, "trl", row.images[0])), row.images[0]);
  }
  assert.ok(existsSync(join(exportDir, "trl-parquet", "preference.parquet")));
  assert.ok(readJson(join(exportDir, "llamafactory", "dataset_info.json")).selfsynth_preference);
  const yaml = parseYaml(readFileSync(join(exportDir, "llamafactory-train.yaml"), "utf8"), { version: "1.1" });
  assert.equal(yaml.model_name_or_path, "tiny", "the base model is the served model's name");
  assert.equal(yaml.stage, "dpo");
  assert.equal(yaml.pref_beta, 0.2);
  assert.equal(yaml.lora_rank, 4);
  assert.equal(yaml.max_steps, 2);
  assert.match(readFileSync(join(exportDir, "train_trl.py"), "utf8"), /^ {8}beta=0\.2, {2}# dpo\.beta$/m);
  assert.ok(readFileSync(join(exportDir, "TRAIN.md"), "utf8").includes(`--out ${out} --continue-with`));

  // 2. A rerun waits again, at once (in this process): exit code 3, the same message, nothing redone.
  const pairsBefore = readFileSync(join(stageDir, "data", "pairs.jsonl"), "utf8");
  const again = await selfsynthRunHere([recipe, "--out", out]);
  assert.equal(again.exitCode, 3);
  assert.ok(again.printed.includes(message), again.printed.join("\n"));
  assert.equal(readFileSync(join(stageDir, "data", "pairs.jsonl"), "utf8"), pairsBefore);

  // 3. A refused connection: exit 1, the URL named, the run still waiting.
  const refused = await selfsynthRun([
    recipe,
    "--out",
    out,
    "--continue-with",
    "http://127.0.0.1:9/v1",
    "--continue-model",
    "tiny-trained",
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /selfsynth: endpoint http:\/\/127\.0\.0\.1:9\/v1: probing .* failed/);
  assert.ok(existsSync(join(out, "waiting.json")));
  assert.ok(!existsSync(join(stageDir, "stage.json")));

  // 4. Continue with the "trained" model's server: recorded as the stage's model; the run finishes.
  const done = await selfsynthRun([
    recipe,
    "--out",
    out,
    "--continue-with",
    trainedUrl,
    "--continue-model",
    "tiny-trained",
  ]);
  assert.equal(done.code, 0, done.stderr);
  assert.ok(!done.stdout.includes("waiting"));
  assert.ok(!existsSync(join(out, "waiting.json")));
  const stage = readJson(join(stageDir, "stage.json"));
  assert.equal(stage.model, `endpoint:tiny-trained@${trainedUrl}`);
  assert.deepEqual(stage.continuedWith.endpoint, { baseUrls: [trainedUrl], maxAttempts: 2, model: "tiny-trained" });
  const manifest = readJson(join(out, "manifest.json"));
  assert.equal(manifest.status, "finished");
  assert.ok(manifest.finishedAt);
  assert.equal(manifest.stages["stic-stage1"].model, `endpoint:tiny-trained@${trainedUrl}`);
  assert.equal(manifest.stages["stic-stage1"].continuedWith.endpoint.model, "tiny-trained");
  assert.ok(existsSync(join(out, "report.html")), "the report page is built");
  assert.doesNotMatch(readFileSync(join(out, "run.log"), "utf8"), /report\.html not written/);

  // 5. A finished run refuses --continue-with (in this process: the error main.ts prints, exit 1).
  await assert.rejects(
    selfsynthRunHere([recipe, "--out", out, "--continue-with", trainedUrl, "--continue-model", "tiny-trained"]),
    new RegExp(`run ${out} has finished: --continue-with continues a run that waits`),
  );
});
