import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  AdamW,
  crossEntropy,
  liveTensorCount,
  noGrad,
  setNumThreads,
  type Tensor,
  tensorFrom,
  tidy,
} from "../../src/engine/index.js";
import { encodeChat } from "../../src/models/chat-template.js";
import { generate } from "../../src/models/generate.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import type { TrainBatch } from "../../src/models/trainable.js";
import { DEFAULT_VLM_CONFIG, parseVLMConfig, VLM, type VLMConfig } from "../../src/models/vlm.js";
import { loadVLM, saveVLM } from "../../src/models/vlm-io.js";

setNumThreads(1);

const CAPTIONS = [
  "a red circle on the left.",
  "a blue square on the right.",
  "two green stars at the top.",
  "a red square at the bottom.",
  "one blue circle in the middle.",
];
const PROMPT = "<image> Describe the image.";
const tokenizer = Tokenizer.build([...CAPTIONS, PROMPT]);

function tinyConfig(): VLMConfig {
  return {
    vision: { imageSize: 8, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
    projectorHidden: 64,
    decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 64, ropeBase: 10000 },
    vocabSize: tokenizer.vocabSize,
    imageTokenId: tokenizer.specialIds.image,
  };
}

/** The world models' kind: the conv stem (two stride-2 convs at 4x4 patches) and 2x2 token merging. */
function convMergeConfig(): VLMConfig {
  const c = tinyConfig();
  return { ...c, vision: { ...c.vision, imageSize: 16, stem: "conv" }, tokenMerge: 2 };
}

/** A random-pattern image (3*S*S floats in [0, 1]) from a small LCG. */
function pattern(seed: number, size: number): Float32Array {
  let s = seed * 7919 + 13;
  return Float32Array.from({ length: 3 * size * size }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

/** Right-padded TrainBatch of tokenized examples. */
function batchOf(
  examples: { inputIds: number[]; labels: number[]; image: Float32Array | null }[],
  size: number,
): TrainBatch {
  const B = examples.length;
  const T = Math.max(...examples.map((e) => e.inputIds.length));
  const ids = new BigInt64Array(B * T);
  const labels = new BigInt64Array(B * T).fill(-100n);
  const mask = new Uint8Array(B * T);
  examples.forEach((e, b) => {
    e.inputIds.forEach((id, t) => {
      ids[b * T + t] = BigInt(id);
      labels[b * T + t] = BigInt(e.labels[t]);
      mask[b * T + t] = 1;
    });
  });
  const images = examples.map((e) => e.image).filter((im): im is Float32Array => im !== null);
  const pixels = new Float32Array(images.length * 3 * size * size);
  for (const [i, im] of images.entries()) pixels.set(im, i * im.length);
  return {
    inputIds: tensorFrom(ids, [B, T]),
    attentionMask: tensorFrom(mask, [B, T]),
    labels: tensorFrom(labels, [B, T]),
    pixelValues: images.length === 0 ? null : tensorFrom(pixels, [images.length, 3, size, size]),
  };
}

/** Next-token loss on labelled (assistant) tokens only. */
function lossOf(logits: Tensor, labels: Tensor): Tensor {
  const [B, T, V] = logits.shape;
  return crossEntropy(logits.slice(1, 0, T - 1).reshape([B * (T - 1), V]), labels.slice(1, 1).reshape([B * (T - 1)]));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("parseVLMConfig accepts the default and names the bad field", () => {
  assert.deepEqual(parseVLMConfig(DEFAULT_VLM_CONFIG), DEFAULT_VLM_CONFIG);
  const bad = (patch: (c: Record<string, unknown>) => void) => {
    const c = structuredClone(DEFAULT_VLM_CONFIG) as unknown as Record<string, unknown>;
    patch(c);
    return () => parseVLMConfig(c);
  };
  assert.throws(
    bad((c) => ((c.decoder as Record<string, unknown>).heads = 0)),
    /config\.decoder\.heads/,
  );
  assert.throws(
    bad((c) => ((c.decoder as Record<string, unknown>).heads = 3)),
    /config\.decoder\.heads/,
  );
  assert.throws(
    bad((c) => ((c.vision as Record<string, unknown>).patchSize = 5)),
    /config\.vision\.imageSize/,
  );
  assert.throws(
    bad((c) => (c.vocabSize = "many")),
    /config\.vocabSize/,
  );
  assert.throws(
    bad((c) => (c.projectorHidden = undefined)),
    /config\.projectorHidden/,
  );
  assert.throws(
    bad((c) => (c.extra = 1)),
    /config\.extra: unknown field/,
  );
  assert.throws(
    bad((c) => ((c.decoder as Record<string, unknown>).ropeBase = -1)),
    /config\.decoder\.ropeBase/,
  );
});

test("default VLM: 64 image tokens and checkpoint weight names", () => {
  const model = new VLM({ ...DEFAULT_VLM_CONFIG, vocabSize: tokenizer.vocabSize });
  try {
    assert.equal(model.numImageTokens, 64);
    const names = [...model.parameters.keys()];
    for (const name of [
      "vision.patch_embed.weight",
      "vision.pos_embed",
      "vision.layers.1.attn.q_proj.weight",
      "projector.fc1.weight",
      "projector.fc1.bias",
      "projector.fc2.weight",
      "decoder.embed_tokens.weight",
      "decoder.layers.3.self_attn.o_proj.weight",
      "decoder.layers.3.mlp.gate_proj.weight",
      "decoder.layers.0.input_layernorm.weight",
      "decoder.layers.0.post_attention_layernorm.weight",
      "decoder.norm.weight",
      "lm_head.weight",
    ]) {
      assert.ok(names.includes(name), name);
    }
    assert.deepEqual(model.parameters.get("projector.fc1.weight")?.shape, [256, 128]);
    assert.deepEqual(model.parameters.get("projector.fc2.weight")?.shape, [256, 256]);
    assert.deepEqual(model.parameters.get("lm_head.weight")?.shape, [tokenizer.vocabSize, 256]);
    assert.equal(names.filter((n) => n.startsWith("decoder.layers.") && n.endsWith("q_proj.weight")).length, 4);
  } finally {
    model.dispose();
  }
});

test("conv stem and token merge: weights, the merged token order, config errors", () => {
  const model = new VLM(convMergeConfig(), { seed: 1 });
  try {
    // 16x16 images at 4x4 patches: a 4x4 grid of vision tokens, merged 2x2 into 4 image tokens.
    assert.equal(model.numImageTokens, 4);
    const p = model.parameters;
    assert.equal(p.has("vision.patch_embed.weight"), false);
    assert.deepEqual(p.get("vision.stem.0.weight")?.shape, [16, 3, 3, 3]);
    assert.deepEqual(p.get("vision.stem.1.weight")?.shape, [32, 16, 3, 3]);
    assert.deepEqual(p.get("projector.fc1.weight")?.shape, [64, 4 * 32]);
    noGrad(() =>
      tidy(() => {
        const pixels = tensorFrom(pattern(5, 16), [1, 3, 16, 16]);
        const feats = model.vision.forward(pixels).toFloat32(); // (1, 16, 32) in reading order
        const merged = model.encodeImages(pixels).toFloat32(); // (1, 4, 64)
        // Image token 1 is the top-right square: vision tokens 2, 3 (row 0) then 6, 7 (row 1).
        const square = new Float32Array(4 * 32);
        for (const [k, t] of [2, 3, 6, 7].entries()) square.set(feats.subarray(t * 32, (t + 1) * 32), k * 32);
        const x = tensorFrom(square, [1, 1, 128]);
        const expected = model.projector.fc2.forward(model.projector.fc1.forward(x).gelu()).toFloat32();
        assert.ok(maxAbsDiff(merged.subarray(64, 128), expected) < 1e-5);
      }),
    );
    // A checkpoint keeps the stem and the merge.
    const dir = mkdtempSync(join(tmpdir(), "vlm-conv-"));
    try {
      saveVLM(dir, model, tokenizer);
      const loaded = loadVLM(dir);
      try {
        assert.deepEqual(loaded.model.config, model.config);
        noGrad(() =>
          tidy(() => {
            const pixels = tensorFrom(pattern(6, 16), [1, 3, 16, 16]);
            const a = model.encodeImages(pixels).toFloat32();
            assert.equal(maxAbsDiff(a, loaded.model.encodeImages(pixels).toFloat32()), 0);
          }),
        );
      } finally {
        loaded.model.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    model.dispose();
  }
  const c = convMergeConfig();
  assert.throws(
    () => parseVLMConfig({ ...c, vision: { ...c.vision, stem: "fft" } }),
    /config\.vision\.stem: expected one of patch, conv/,
  );
  assert.throws(
    () => parseVLMConfig({ ...c, vision: { ...c.vision, imageSize: 24, patchSize: 6 } }),
    /config\.vision\.patchSize: the conv stem needs a power of two/,
  );
  assert.throws(() => parseVLMConfig({ ...c, tokenMerge: 3 }), /config\.tokenMerge: 3 does not divide the 4x4 grid/);
  assert.equal(parseVLMConfig(tinyConfig()).tokenMerge, undefined, "absent stays absent in old configs");
});

test("the image-token count must match the image", () => {
  const model = new VLM(tinyConfig());
  try {
    const N = model.numImageTokens;
    const ex = (k: number) => ({
      inputIds: [2, ...Array(k).fill(4), 8],
      labels: Array(k + 2).fill(-100),
      image: pattern(1, 8),
    });
    tidy(() => {
      assert.throws(
        () => model.forward(batchOf([ex(N - 1)], 8)),
        /row 0 holds 3 <image> tokens; an image takes exactly 4/,
      );
      assert.throws(
        () => model.forward({ ...batchOf([ex(N)], 8), pixelValues: null }),
        /1 rows hold <image> tokens but 0 images/,
      );
      assert.deepEqual(model.forward(batchOf([ex(N)], 8)).shape, [1, N + 2, tokenizer.vocabSize]);
    });
  } finally {
    model.dispose();
  }
});

test("left and right padding give each row the logits of its unpadded sequence", () => {
  const model = new VLM(tinyConfig(), { seed: 3 });
  const N = model.numImageTokens;
  const short = encodeChat(tokenizer, [{ role: "user", content: PROMPT }], {
    numImageTokens: N,
    addGenerationPrompt: true,
  });
  const long = encodeChat(
    tokenizer,
    [
      { role: "user", content: PROMPT },
      { role: "assistant", content: CAPTIONS[0] },
    ],
    {
      numImageTokens: N,
      addGenerationPrompt: false,
    },
  );
  const imgs = [pattern(1, 8), pattern(2, 8)];
  try {
    noGrad(() =>
      tidy(() => {
        const alone = [short, long].map((e, i) => model.forward(batchOf([{ ...e, image: imgs[i] }], 8)).toFloat32());
        // Right padding (training batches).
        const right = model.forward(
          batchOf(
            [
              { ...short, image: imgs[0] },
              { ...long, image: imgs[1] },
            ],
            8,
          ),
        );
        const V = tokenizer.vocabSize;
        const T = long.inputIds.length;
        const rowShort = right.select(0, 0).slice(0, 0, short.inputIds.length).toFloat32();
        assert.ok(maxAbsDiff(rowShort, alone[0]) < 1e-5);
        assert.ok(maxAbsDiff(right.select(0, 1).toFloat32(), alone[1]) < 1e-5);
        // Left padding (generation batches): shift the short row right, mask the pad.
        const pad = T - short.inputIds.length;
        const ids = new BigInt64Array(2 * T);
        const mask = new Uint8Array(2 * T);
        short.inputIds.forEach((id, t) => {
          ids[pad + t] = BigInt(id);
          mask[pad + t] = 1;
        });
        long.inputIds.forEach((id, t) => {
          ids[T + t] = BigInt(id);
          mask[T + t] = 1;
        });
        const pixels = new Float32Array(2 * imgs[0].length);
        pixels.set(imgs[0]);
        pixels.set(imgs[1], imgs[0].length);
        const left = model.forward({
          inputIds: tensorFrom(ids, [2, T]),
          attentionMask: tensorFrom(mask, [2, T]),
          labels: tensorFrom(new BigInt64Array(2 * T).fill(-100n), [2, T]),
          pixelValues: tensorFrom(pixels, [2, 3, 8, 8]),
        });
        const leftShort = left.select(0, 0).slice(0, pad).toFloat32();
        assert.ok(leftShort.every(Number.isFinite), "no NaN from fully padded rows");
        assert.ok(maxAbsDiff(leftShort, alone[0]) < 1e-5);
        assert.ok(maxAbsDiff(left.select(0, 1).toFloat32(), alone[1]) < 1e-5);
        assert.equal(left.size(2), V);
        // The image matters: another image changes the logits.
        const other = model.forward(batchOf([{ ...short, image: imgs[1] }], 8)).toFloat32();
        assert.ok(maxAbsDiff(other, alone[0]) > 1e-4);
      }),
    );
  } finally {
    model.dispose();
  }
});

for (const [label, config, size] of [
  ["patch stem", tinyConfig, 8],
  ["conv stem, 2x2 token merge", convMergeConfig, 16],
] as const) {
  test(`a tiny VLM (${label}) overfits 5 image-caption pairs until greedy decoding reproduces every caption`, (t) => {
    const start = performance.now();
    const model = new VLM(config(), { seed: 0 });
    const N = model.numImageTokens;
    const images = CAPTIONS.map((_, i) => pattern(i + 1, size));
    const examples = CAPTIONS.map((caption, i) => ({
      ...encodeChat(
        tokenizer,
        [
          { role: "user", content: PROMPT },
          { role: "assistant", content: caption },
        ],
        {
          numImageTokens: N,
          addGenerationPrompt: false,
        },
      ),
      image: images[i],
    }));
    const params = [...model.trainableParameters().values()];
    const before = params.map((p) => p.toFloat32());
    const optimizer = new AdamW(params, { lr: 3e-3, weightDecay: 0 });
    const live = liveTensorCount();
    const requests = images.map((image) => ({ image, messages: [{ role: "user" as const, content: PROMPT }] }));
    const decodeAll = () => generate(model, tokenizer, requests, { temperature: 0, maxNewTokens: 12 }).map((s) => s[0]);
    let losses: number[] = [];
    let samples = decodeAll();
    let step = 0;
    try {
      for (; step < 400; step++) {
        const loss = tidy(() => {
          const batch = batchOf(examples, size);
          const l = lossOf(model.forward(batch, { training: true }), batch.labels);
          l.backward();
          return l.item();
        });
        optimizer.stepOnce();
        optimizer.zeroGrad();
        losses.push(loss);
        if (step % 25 === 24 && loss < 0.05) {
          samples = decodeAll();
          if (samples.every((s, i) => s.text === CAPTIONS[i] && s.finishReason === "stop")) break;
        }
      }
      assert.equal(liveTensorCount(), live, "training and generation leak no tensors");
      assert.deepEqual(
        samples.map((s) => s.text),
        CAPTIONS,
        `after ${step} steps (loss ${losses.at(-1)})`,
      );
      assert.ok(samples.every((s) => s.finishReason === "stop" && s.tokenIds.at(-1) === tokenizer.specialIds.end));
      assert.ok(losses[0] > 2, `initial loss ${losses[0]} is near ln(V)`);
      // Every parameter trained (the vision tower and projector included).
      const names = [...model.trainableParameters().keys()];
      params.forEach((p, i) => {
        assert.ok(maxAbsDiff(p.toFloat32(), before[i]) > 0, `${names[i]} changed`);
      });
      losses = [];
      t.diagnostic(`overfit: ${step + 1} steps, ${((performance.now() - start) / 1000).toFixed(1)} s`);
    } finally {
      optimizer.dispose();
      model.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    assert.ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
  });
}

test("saveVLM / loadVLM round trip gives identical logits; bad checkpoints are errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "vlm-io-"));
  const model = new VLM(tinyConfig(), { seed: 5 });
  const N = model.numImageTokens;
  const ex = {
    ...encodeChat(
      tokenizer,
      [
        { role: "user", content: PROMPT },
        { role: "assistant", content: CAPTIONS[1] },
      ],
      {
        numImageTokens: N,
        addGenerationPrompt: false,
      },
    ),
    image: pattern(9, 8),
  };
  try {
    saveVLM(join(dir, "ckpt"), model, tokenizer);
    const loaded = loadVLM(join(dir, "ckpt"));
    try {
      assert.deepEqual(loaded.config, model.config);
      assert.equal(loaded.tokenizer.vocabSize, tokenizer.vocabSize);
      noGrad(() =>
        tidy(() => {
          const a = model.forward(batchOf([ex], 8)).toFloat32();
          const b = loaded.model.forward(batchOf([ex], 8)).toFloat32();
          assert.equal(maxAbsDiff(a, b), 0);
        }),
      );
    } finally {
      loaded.model.dispose();
    }
    // A checkpoint of another shape is refused, naming the tensor.
    const wider = new VLM({ ...tinyConfig(), projectorHidden: 32 });
    saveVLM(join(dir, "wider"), wider, tokenizer);
    wider.dispose();
    const cfgPath = join(dir, "wider", "config.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, projectorHidden: 64 }));
    assert.throws(() => loadVLM(join(dir, "wider")), /projector\.fc1\.weight/);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, model_type: "llama" }));
    assert.throws(() => loadVLM(join(dir, "wider")), /model_type/);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, decoder: { ...cfg.decoder, layers: 0 } }));
    assert.throws(() => loadVLM(join(dir, "wider")), /decoder\.layers/);
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
