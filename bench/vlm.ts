// VLM benchmark: the default VLM (src/models/vlm.ts DEFAULT_VLM_CONFIG, vocabulary 512 as the
// reference) trained and sampled through the real VLM class, side by side with
// bench/reference_vlm.py (whose header documents the protocol). Training goes through
// VLM.forward (embedding with the image features, position ids and masks from the attention
// mask, as the trainer does); KV-cache sampling through VLM.decode, as the reference's loop.
// The user-facing generate() (chat template, left padding, per-row generators, top-k/top-p
// machinery, stop handling) is timed separately: it has no PyTorch counterpart.
import { join } from "node:path";
import {
  AdamW,
  cat,
  crossEntropy,
  embedding,
  full,
  Generator,
  multinomial,
  noGrad,
  ones,
  rand,
  type Tensor,
  tidy,
} from "../src/engine/index.js";
import { generate as generateText } from "../src/models/generate.js";
import { type LayerCache, positionRange } from "../src/models/layers.js";
import { Tokenizer } from "../src/models/tokenizer.js";
import { DEFAULT_VLM_CONFIG, VLM } from "../src/models/vlm.js";
import { timeTraining } from "./engine.js";
import { type Figures, round, runReference, useThreads } from "./protocol.js";
import { randomIds } from "./util.js";

const VOCAB = 512;
const CONFIG = { ...DEFAULT_VLM_CONFIG, vocabSize: VOCAB };
const TRAIN = { batch: 16, text: 32, warmup: 5 };
const SAMPLE = { batch: 16, prompt: 8, newTokens: 24, warmup: 1 };

/** Random text ids that are never the `<image>` id (which would read as an image marker). */
function textIds(gen: Generator, shape: number[]): Tensor {
  const ids = randomIds(gen, shape, VOCAB);
  return ids.add(ids.eq(CONFIG.imageTokenId).to("int64"));
}

export function measureVlm(threads: number, trainSteps: number, sampleReps: number, seed = 0): Figures {
  useThreads(threads);
  const model = new VLM(CONFIG, { seed });
  const gen = new Generator(seed + 1);
  const N = model.numImageTokens; // 64
  const { imageSize: S } = CONFIG.vision;
  const params = [...model.trainableParameters().values()];
  const optimizer = new AdamW(params, { lr: 3e-4, weightDecay: 0.01 });
  const images = rand([TRAIN.batch, 3, S, S], gen);
  const text = textIds(gen, [TRAIN.batch, TRAIN.text]);
  const batch = {
    inputIds: cat([full([TRAIN.batch, N], CONFIG.imageTokenId, "int64"), text], 1), // (B, 64 + 32)
    attentionMask: ones([TRAIN.batch, N + TRAIN.text], "bool"),
    labels: text, // unused: the loss below is the reference's
    pixelValues: images,
  };
  const train = timeTraining(
    () => {
      const logits = model.forward(batch, { training: true }); // (B, 96, V)
      // positions 63..94 predict the text tokens 0..31
      return crossEntropy(logits.slice(1, N - 1, N - 1 + TRAIN.text).reshape([-1, VOCAB]), text.reshape([-1]));
    },
    params,
    optimizer,
    TRAIN.warmup,
    trainSteps,
  );

  const sampleImages = rand([SAMPLE.batch, 3, S, S], gen);
  const prompt = cat(
    [full([SAMPLE.batch, N], CONFIG.imageTokenId, "int64"), textIds(gen, [SAMPLE.batch, SAMPLE.prompt])],
    1,
  );
  const sampleGen = new Generator(seed + 2);
  const once = () => noGrad(() => sampleWithCache(model, sampleImages, prompt, sampleGen));
  for (let i = 0; i < SAMPLE.warmup; i++) once();
  const t0 = performance.now();
  for (let i = 0; i < sampleReps; i++) once();
  const sampleSeconds = (performance.now() - t0) / 1000;

  const generateTps = measureGenerate(model, sampleReps, seed);
  optimizer.dispose();
  model.dispose();
  for (const t of [images, text, batch.inputIds, batch.attentionMask, sampleImages, prompt]) t.dispose();
  return {
    train_tokens_per_s: round((trainSteps * TRAIN.batch * (N + TRAIN.text)) / train.seconds, 1),
    sample_tokens_per_s: round((sampleReps * SAMPLE.batch * SAMPLE.newTokens) / sampleSeconds, 1),
    phases_ms: {
      ...train.perStep,
      decode_step: round((1000 * sampleSeconds) / (sampleReps * SAMPLE.newTokens), 3),
    },
    extra: { generate_tokens_per_s: generateTps },
  };
}

/** The reference's loop: encode the images, prefill image + prompt tokens, then one token per step. */
function sampleWithCache(model: VLM, pixels: Tensor, prompt: Tensor, gen: Generator): void {
  tidy(() => {
    const T = prompt.size(1);
    let state = model.decode({
      embeds: model.embed(prompt, pixels),
      positions: positionRange(T),
      mask: ones([T, T], "bool").tril().reshape([1, 1, T, T]),
      lastOnly: true,
    });
    const out: Tensor[] = [];
    for (let i = 0; i < SAMPLE.newTokens; i++) {
      const token = tidy(() => multinomial(state.logits.select(1, -1).softmax(-1), 1, gen)); // (B, 1)
      out.push(token);
      if (i === SAMPLE.newTokens - 1) break;
      const next = tidy(() =>
        model.decode({
          embeds: embedding(model.embedTokens, token),
          positions: positionRange(1, T + i),
          mask: ones([1, 1, 1, T + i + 1], "bool"), // one query sees the whole cache
          caches: state.caches,
          lastOnly: true,
        }),
      );
      disposeState(state);
      state = next;
    }
    return cat(out, 1);
  });
}

function disposeState(state: { logits: Tensor; caches: LayerCache[] }): void {
  state.logits.dispose();
  for (const c of state.caches) {
    c.k.dispose();
    c.v.dispose();
  }
}

/** generate() over 16 image requests (n = 1, temperature 1, 24 new tokens at most): tokens/s. */
function measureGenerate(model: VLM, reps: number, seed: number): number {
  const tokenizer = Tokenizer.build([Array.from({ length: VOCAB - 8 }, (_, i) => `w${i}`).join(" ")]);
  const S = CONFIG.vision.imageSize;
  const requests = Array.from({ length: SAMPLE.batch }, (_, i) => ({
    image: Float32Array.from({ length: 3 * S * S }, (_, j) => ((i * 7919 + j * 31) % 97) / 97),
    messages: [{ role: "user" as const, content: "<image> w1 w2 w3 w4" }],
  }));
  const params = { n: 1, temperature: 1, maxNewTokens: SAMPLE.newTokens, seed };
  generateText(model, tokenizer, requests, params); // warm-up
  let tokens = 0;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    for (const s of generateText(model, tokenizer, requests, { ...params, seed: seed + r + 1 })) {
      tokens += s[0].tokenIds.length;
    }
  }
  return round(tokens / ((performance.now() - t0) / 1000), 1);
}

export function measureVlmReference(threads: number, trainSteps: number, sampleReps: number): Figures {
  const script = join(import.meta.dirname, "reference_vlm.py");
  return runReference(script, threads, ["--train-steps", String(trainSteps), "--sample-reps", String(sampleReps)]);
}
