import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
// Every assert.ok here carries a message: without one, node re-parses this (tsx-compiled) file to
// quote the failing expression, which took minutes on a failure.
import { liveTensorCount, setNumThreads } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/models/safetensors.js";
import type { TrainBatch } from "../../src/models/trainable.js";
import { collate } from "../../src/train/collate.js";
import type { TrainConfigInput } from "../../src/train/config.js";
import { readMetrics } from "../../src/train/metrics.js";
import { sftLossFn } from "../../src/train/sft-loss.js";
import {
  type LossFn,
  Trainer,
  type TrainerEvent,
  TrainingDivergedError,
  TrainingError,
} from "../../src/train/trainer.js";
import type { TokenizedExample } from "../../src/train/types.js";
import { ToyLM, toyDataset } from "./toy-model.js";

setNumThreads(1);
const V = 16;
const D = 8;
const root = mkdtempSync(join(tmpdir(), "trainer-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;
const freshDir = () => join(root, `run-${runs++}`);

function makeTrainer(
  config: Partial<TrainConfigInput>,
  opts: {
    model?: ToyLM;
    data?: TokenizedExample[];
    lossFn?: LossFn<ToyLM, TrainBatch>;
    resume?: boolean;
    onEvent?: (e: TrainerEvent) => void;
  } = {},
) {
  const model = opts.model ?? new ToyLM(V, D, 1);
  const trainer = new Trainer({
    config: { lr: 0.05, batchSize: 4, outputDir: freshDir(), maxGradNorm: 1, ...config },
    model,
    dataset: opts.data ?? toyDataset(16, V),
    collate: (examples: TokenizedExample[]) => collate(examples, { padId: 0, imageShape: [3, 1, 1] }),
    lossFn: opts.lossFn ?? sftLossFn,
    resume: opts.resume,
    onEvent: opts.onEvent,
  });
  return { model, trainer };
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

test("the loss goes down on a tiny dataset, every parameter changes, and metrics lines are complete", async () => {
  const { model, trainer } = makeTrainer({ maxSteps: 30, warmupSteps: 2, weightDecay: 0.01, logEvery: 5 });
  const before = model.snapshot();
  const live = liveTensorCount();
  const result = await trainer.train();
  assert.equal(result.step, 30);
  assert.equal(liveTensorCount(), live, "every intermediate tensor was freed");
  for (const [name, values] of model.snapshot()) {
    assert.ok(
      values.some((v, i) => v !== before.get(name)![i]),
      `${name} did not change`,
    );
  }
  const lines = readMetrics(join(trainer.config.outputDir, "metrics.jsonl"));
  assert.deepEqual(
    lines.map((l) => l.step),
    [5, 10, 15, 20, 25, 30],
  );
  for (const line of lines) {
    for (const field of ["step", "loss", "lr", "grad_norm", "tokens_per_s", "epoch", "elapsed_s"]) {
      assert.equal(typeof line[field], "number", `${field} in ${JSON.stringify(line)}`);
    }
    assert.ok(line.tokens_per_s > 0, `tokens_per_s ${line.tokens_per_s}`);
  }
  assert.ok(lines[5].loss < 0.5 * lines[0].loss, `loss ${lines[0].loss} -> ${lines[5].loss}`);
  assert.equal(lines[5].epoch, 30 / 4); // 4 steps per epoch of 16 examples in batches of 4
  assert.ok(existsSync(join(trainer.config.outputDir, "checkpoint-30", "trainable.safetensors")));
  trainer.dispose();
  model.dispose();
});

test("2 micro-batches of 4 equal one batch of 8", async () => {
  const data = toyDataset(16, V);
  const one = makeTrainer({ maxSteps: 2, batchSize: 8, gradAccumSteps: 1 }, { data });
  const two = makeTrainer({ maxSteps: 2, batchSize: 4, gradAccumSteps: 2 }, { data });
  await one.trainer.train();
  await two.trainer.train();
  const diff = maxAbsDiff(one.model.snapshot(), two.model.snapshot());
  assert.ok(diff < 1e-6, `max |diff| ${diff}`);
  assert.ok(maxAbsDiff(one.model.snapshot(), new ToyLM(V, D, 1).snapshot()) > 1e-3, "training moved the weights");
  const [a, b] = [one, two].map((r) => readMetrics(join(r.trainer.config.outputDir, "metrics.jsonl")));
  assert.ok(Math.abs(a[1].loss - b[1].loss) < 1e-6, `loss ${a[1].loss} vs ${b[1].loss}`);
  assert.ok(Math.abs(a[1].grad_norm - b[1].grad_norm) < 1e-5, `grad_norm ${a[1].grad_norm} vs ${b[1].grad_norm}`);
});

test("a NaN loss stops training with the last checkpoint intact and no update applied", async () => {
  let calls = 0;
  const nanAtStep3: LossFn<ToyLM, TrainBatch> = (model, batch) => {
    const out = sftLossFn(model, batch);
    calls += 1; // one micro-batch per step: call 3 is step 3
    return calls === 3 ? { ...out, loss: out.loss.mul(Number.NaN) } : out;
  };
  const { model, trainer } = makeTrainer({ maxSteps: 6, saveEvery: 2 }, { lossFn: nanAtStep3 });
  await assert.rejects(trainer.train(), (e: Error) => {
    assert.ok(e instanceof TrainingDivergedError, String(e));
    assert.equal(e.step, 3);
    assert.equal(e.what, "loss");
    assert.match(e.message, /step 3: loss is NaN.*checkpoint-2/);
    return true;
  });
  const dir = trainer.config.outputDir;
  assert.deepEqual(readdirSync(dir).sort(), ["checkpoint-2", "metrics.jsonl"]);
  // The model still holds step 2's weights, exactly those saved.
  const saved = readSafetensors(join(dir, "checkpoint-2", "trainable.safetensors")).tensors;
  for (const [name, values] of model.snapshot()) assert.deepEqual(saved.get(name)!.data, values, name);
  assert.deepEqual(
    readMetrics(join(dir, "metrics.jsonl")).map((l) => l.step),
    [1, 2],
  );
});

test("a non-finite gradient norm stops training before the update", async () => {
  // sqrt'(0) = Inf: the loss stays finite while the gradient of head.weight becomes NaN.
  const badGrad: LossFn<ToyLM, TrainBatch> = (model, batch) => {
    const out = sftLossFn(model, batch);
    const w = model.weights.get("head.weight")!;
    return { ...out, loss: out.loss.add(w.mul(0).sqrt().sum()) };
  };
  const { model, trainer } = makeTrainer({ maxSteps: 3 }, { lossFn: badGrad });
  const before = model.snapshot();
  await assert.rejects(trainer.train(), (e: Error) => {
    assert.ok(e instanceof TrainingDivergedError, String(e));
    assert.equal(e.step, 1);
    assert.equal(e.what, "grad_norm");
    assert.match(e.message, /no checkpoint was saved yet/);
    return true;
  });
  assert.equal(maxAbsDiff(before, model.snapshot()), 0);
});

test("10 steps straight equal 5 steps, a stop, and a resume for 5 more, bit for bit", async () => {
  const config = { maxSteps: 10, saveEvery: 5, warmupSteps: 2, weightDecay: 0.1, batchSize: 3, gradAccumSteps: 2 };
  const data = toyDataset(13, V); // 13 examples: epochs end in partial steps
  const straight = makeTrainer(config, { data });
  await straight.trainer.train();

  const outputDir = freshDir();
  const stop = new AbortController();
  const first = makeTrainer(
    { ...config, outputDir },
    { data, onEvent: (e) => e.kind === "step" && e.step === 5 && stop.abort() },
  );
  const stopped = await first.trainer.train({ signal: stop.signal });
  assert.deepEqual([stopped.step, stopped.stopped], [5, true]);
  first.trainer.dispose();
  first.model.dispose();

  // A fresh process: a new model (other initial weights) and a new trainer.
  const events: TrainerEvent[] = [];
  const second = makeTrainer(
    { ...config, outputDir },
    { data, model: new ToyLM(V, D, 99), resume: true, onEvent: (e) => events.push(e) },
  );
  const done = await second.trainer.train();
  assert.deepEqual([done.step, done.stopped], [10, false]);
  assert.deepEqual(events[0], { kind: "resume", step: 5, dir: join(outputDir, "checkpoint-5") });
  assert.equal(maxAbsDiff(straight.model.snapshot(), second.model.snapshot()), 0);
  const steps = readMetrics(join(outputDir, "metrics.jsonl")).map((l) => l.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test("keeps at most saveTotalLimit checkpoints and refuses to mix runs in one outputDir", async () => {
  const { trainer } = makeTrainer({ maxSteps: 8, saveEvery: 2, saveTotalLimit: 2 });
  await trainer.train();
  const dir = trainer.config.outputDir;
  assert.deepEqual(readdirSync(dir).sort(), ["checkpoint-6", "checkpoint-8", "metrics.jsonl"]);
  const again = makeTrainer({ maxSteps: 8, outputDir: dir });
  await assert.rejects(
    again.trainer.train(),
    (e: Error) => e instanceof TrainingError && /resume: true/.test(e.message),
  );
  // Resuming a finished run does nothing more.
  const resumed = makeTrainer({ maxSteps: 8, saveEvery: 2, saveTotalLimit: 2, outputDir: dir }, { resume: true });
  assert.equal((await resumed.trainer.train()).step, 8);
  const changed = makeTrainer({ maxSteps: 8, seed: 5, outputDir: dir }, { resume: true });
  await assert.rejects(changed.trainer.train(), /seed was 0, now 5/);
});
