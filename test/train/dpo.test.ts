import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
// Every assert.ok here carries a message: without one, node re-parses this (tsx-compiled) file to
// quote the failing expression, which is slow.
import { setNumThreads, tidy } from "../../src/engine/index.js";
import { scoreResponses } from "../../src/models/score.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import { type LoraConfig, VLM, type VLMConfig } from "../../src/models/vlm.js";
import type { TrainConfigInput } from "../../src/train/config.js";
import {
  collateDpo,
  computeReferenceLogps,
  type DpoExample,
  dpoLossFn,
  parseDpoOptions,
  tokenizeDpo,
  trainDpo,
} from "../../src/train/dpo.js";
import { DPO_METRICS } from "../../src/train/dpo-loss.js";
import { type MetricsRecord, readMetrics } from "../../src/train/metrics.js";

setNumThreads(1);

const root = mkdtempSync(join(tmpdir(), "dpo-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;
const freshDir = () => join(root, `run-${runs++}`);

const tokenizer = Tokenizer.build([
  "describe the image. what is on the left? a red circle, a blue square and two green stars at the top.",
  "is there a yellow heart in the middle? yes. no. one small cross below a large diamond.",
]);
const CONFIG: VLMConfig = {
  vision: { imageSize: 8, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
  projectorHidden: 64,
  decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 96, ropeBase: 10000 },
  vocabSize: tokenizer.vocabSize,
  imageTokenId: tokenizer.specialIds.image,
};
const LORA: LoraConfig = {
  r: 4,
  alpha: 8,
  dropout: 0.1,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
};

function image(seed: number): Float32Array {
  return Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => ((i * 37 + seed * 11) % 17) / 17);
}

const EXAMPLES: DpoExample[] = [
  {
    image: image(1),
    prompt: [{ role: "user", content: "<image> describe the image." }],
    chosen: "a red circle on the left.",
    rejected: "two green stars and a yellow heart in the middle.",
  },
  {
    image: image(2),
    prompt: [{ role: "user", content: "<image> what is on the left?" }],
    chosen: "a blue square.",
    rejected: "one small cross below a large diamond.",
  },
  {
    // Multi-turn: only the last answer is scored, not the earlier assistant turn.
    image: image(3),
    prompt: [
      { role: "user", content: "<image> describe the image." },
      { role: "assistant", content: "a large diamond." },
      { role: "user", content: "is there a yellow heart?" },
    ],
    chosen: "no.",
    rejected: "yes. a yellow heart at the top.",
  },
  {
    image: image(4),
    prompt: [{ role: "user", content: "<image> is there a red circle in the middle?" }],
    chosen: "yes. a red circle.",
    rejected: "no. two blue squares on the left.",
  },
];

const newModel = (lora: boolean) => {
  const model = new VLM(CONFIG, { seed: 5 });
  if (lora) model.addLora(LORA);
  return model;
};

const trainConfig = (c: Partial<TrainConfigInput>): TrainConfigInput => ({
  lr: 1e-2,
  batchSize: 2,
  schedule: "constant",
  outputDir: freshDir(),
  ...c,
});

const metricsOf = (dir: string): MetricsRecord[] => readMetrics(join(dir, "metrics.jsonl"));

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test("summed response log-probs equal teacher-forced scoring (score.ts)", () => {
  const model = newModel(false);
  try {
    const refs = computeReferenceLogps(model, tokenizer, EXAMPLES, { batchSize: 3 });
    const items = EXAMPLES.flatMap((e) =>
      [e.chosen, e.rejected].map((answer) => ({
        image: e.image as Float32Array,
        messages: [...e.prompt, { role: "assistant" as const, content: answer }],
      })),
    );
    const scored = scoreResponses(model, tokenizer, items, { batchSize: 5 });
    refs.forEach((r, i) => {
      const chosen = sum(scored[2 * i].logprobs);
      const rejected = sum(scored[2 * i + 1].logprobs);
      assert.ok(Math.abs(r.chosen - chosen) < 1e-4, `examples[${i}].chosen: ${r.chosen} vs scored ${chosen}`);
      assert.ok(Math.abs(r.rejected - rejected) < 1e-4, `examples[${i}].rejected: ${r.rejected} vs ${rejected}`);
    });
    // STIC's code variant scores other tokens on the rejected side only.
    const stic = computeReferenceLogps(model, tokenizer, EXAMPLES, { rejectedLogp: "stic-code" });
    stic.forEach((s, i) => {
      assert.ok(Math.abs(s.chosen - refs[i].chosen) < 1e-5, `stic-code leaves chosen ${i} alone`);
      assert.ok(Math.abs(s.rejected - refs[i].rejected) > 1e-3, `stic-code changes rejected ${i}`);
    });
  } finally {
    model.dispose();
  }
});

test("with a fresh adapter the reference equals the policy: rewards 0, loss log 2 - α·πc; precomputed agrees", async () => {
  const alpha = 0.25;
  const lora = newModel(true);
  const full = newModel(false); // the same base weights, trained in full against stored references
  try {
    const refs = computeReferenceLogps(lora, tokenizer, EXAMPLES);
    const meanChosen = sum(refs.map((r) => r.chosen)) / refs.length;
    // One step over all four pairs (2 micro-batches of 2), so the logged values cover every pair.
    const config = { maxSteps: 1, gradAccumSteps: 2 };
    const offDir = freshDir();
    await trainDpo(lora, tokenizer, EXAMPLES, trainConfig({ ...config, outputDir: offDir }), { alpha, beta: 0.5 });
    const [off] = metricsOf(offDir);
    const expected = Math.LN2 - alpha * meanChosen;
    assert.ok(Math.abs(off.loss - expected) < 1e-5, `adapter-off loss ${off.loss}, expected ${expected}`);
    for (const k of ["rewards/chosen", "rewards/rejected", "rewards/margins"]) {
      assert.ok(Math.abs(off[k]) < 1e-6, `${k} = ${off[k]} at the start`);
    }
    assert.ok(Math.abs(off["logps/chosen"] - meanChosen) < 1e-4, `logps/chosen ${off["logps/chosen"]}`);
    assert.ok(
      lora.decoderLinears().every((l) => l.loraEnabled),
      "the adapters are on again after training",
    );

    const stored = EXAMPLES.map((e, i) => ({ ...e, reference: refs[i] }));
    const preDir = freshDir();
    await trainDpo(full, tokenizer, stored, trainConfig({ ...config, outputDir: preDir }), {
      alpha,
      beta: 0.5,
      reference: "precomputed",
    });
    const [pre] = metricsOf(preDir);
    assert.ok(Math.abs(pre.loss - off.loss) < 1e-5, `precomputed loss ${pre.loss} vs adapter-off ${off.loss}`);
    assert.ok(Math.abs(pre["rewards/margins"]) < 1e-5, `precomputed margins ${pre["rewards/margins"]}`);
  } finally {
    lora.dispose();
    full.dispose();
  }
});

test("a few DPO steps with LoRA raise the margins on the training pairs; metrics lines hold every key", async () => {
  const model = newModel(true);
  try {
    const dir = freshDir();
    const events: number[] = [];
    const result = await trainDpo(
      model,
      tokenizer,
      EXAMPLES,
      trainConfig({ maxSteps: 12, outputDir: dir }),
      { beta: 0.5 },
      { onEvent: (e) => e.kind === "step" && events.push(e.loss) },
    );
    assert.equal(result.step, 12);
    const lines = metricsOf(dir);
    assert.equal(lines.length, 12);
    for (const line of lines) {
      for (const key of [...DPO_METRICS, "loss", "grad_norm", "lr"]) {
        assert.ok(typeof line[key] === "number" && Number.isFinite(line[key]), `step ${line.step}: ${key} missing`);
      }
    }
    const last = lines[lines.length - 1];
    assert.ok(Math.abs(lines[0]["rewards/margins"]) < 1e-6, `first margins ${lines[0]["rewards/margins"]}`);
    assert.ok(last["rewards/margins"] > 0.1, `last margins ${last["rewards/margins"]}`);
    assert.ok(last.loss < Math.LN2 - 0.05, `last loss ${last.loss}`);

    // Against the base (adapters off), the trained policy prefers every chosen answer more.
    const trained = computeReferenceLogps(model, tokenizer, EXAMPLES);
    model.setLoraEnabled(false);
    const base = computeReferenceLogps(model, tokenizer, EXAMPLES);
    model.setLoraEnabled(true);
    trained.forEach((t, i) => {
      const gain = t.chosen - t.rejected - (base[i].chosen - base[i].rejected);
      assert.ok(gain > 0, `pair ${i}: chosen - rejected changed by ${gain}`);
    });
  } finally {
    model.dispose();
  }
});

test("bad options, a missing stored reference and a model without adapters get clear errors", async () => {
  assert.deepEqual(parseDpoOptions({}), {
    beta: 0.1,
    alpha: 0,
    reference: "adapter-off",
    rejectedLogp: "response",
    dropout: false,
  });
  assert.throws(() => parseDpoOptions({ beta: 0 }), /beta/);
  assert.throws(() => parseDpoOptions({ beta: Number.NaN }), /beta/);
  assert.throws(() => parseDpoOptions({ alpha: -0.1 }), /alpha/);
  assert.throws(() => parseDpoOptions({ reference: "frozen-copy" }), /reference/);
  assert.throws(() => parseDpoOptions({ rejectedLogp: "top" }), /rejectedLogp/);
  assert.throws(() => parseDpoOptions({ betta: 0.2 }), /betta/);

  const plain = newModel(false);
  const lora = newModel(true);
  try {
    await assert.rejects(trainDpo(plain, tokenizer, EXAMPLES, trainConfig({ maxSteps: 1 }), {}), /adapter-off.*LoRA/);
    const partly = EXAMPLES.map((e, i) => (i === 1 ? e : { ...e, reference: { chosen: -3, rejected: -4 } }));
    await assert.rejects(
      trainDpo(plain, tokenizer, partly, trainConfig({ maxSteps: 1 }), { reference: "precomputed" }),
      /examples\[1\] has no reference/,
    );
    const bad = [{ ...EXAMPLES[0], prompt: [...EXAMPLES[2].prompt.slice(0, 2)] }];
    assert.throws(() => tokenizeDpo(tokenizer, lora, bad), /examples\[0\]\.prompt.*user turn/);
    const noImage = [EXAMPLES[0], { ...EXAMPLES[1], image: null }];
    assert.throws(() => tokenizeDpo(tokenizer, lora, noImage), /examples\[1\].*<image> markers/);

    // The adapters come back on even when the reference forward throws.
    const opts = parseDpoOptions({});
    const forward = lora.forward.bind(lora);
    lora.forward = () => {
      throw new Error("boom");
    };
    try {
      tidy(() => {
        const pairs = tokenizeDpo(tokenizer, lora, EXAMPLES.slice(0, 2));
        const batch = collateDpo(pairs, {
          padId: tokenizer.specialIds.pad,
          imageShape: [3, 8, 8],
          withReference: false,
        });
        assert.throws(() => dpoLossFn(opts)(lora, batch), /boom/);
      });
    } finally {
      lora.forward = forward;
    }
    assert.ok(
      lora.decoderLinears().every((l) => l.loraEnabled),
      "adapters re-enabled after an error",
    );
  } finally {
    plain.dispose();
    lora.dispose();
  }
});
