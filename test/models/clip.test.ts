import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { AdamW, liveTensorCount, noGrad, setNumThreads, tidy } from "../../src/engine/index.js";
import { type ClipConfigInput, ClipModel, ClipScorer, parseClipConfig, tokenizeTexts } from "../../src/models/clip.js";
import { CLIP_MODEL_TYPE, loadClip, saveClip } from "../../src/models/clip-io.js";
import { Tokenizer } from "../../src/models/tokenizer.js";

setNumThreads(1);

const TMP = mkdtempSync(join(tmpdir(), "clip-test-"));
after(() => rmSync(TMP, { recursive: true, force: true }));

// --- synthetic world: solid or striped 32x32 images, each paired with its colour ------------

const COLOURS: Record<string, [number, number, number]> = {
  red: [0.9, 0.1, 0.1],
  green: [0.1, 0.8, 0.1],
  blue: [0.1, 0.2, 0.9],
  yellow: [0.9, 0.9, 0.1],
  cyan: [0.1, 0.9, 0.9],
  magenta: [0.9, 0.1, 0.9],
  white: [0.95, 0.95, 0.95],
  black: [0.05, 0.05, 0.05],
};
const COLOUR_NAMES = Object.keys(COLOURS);
const caption = (colour: string) => `a ${colour} picture`;

/** mulberry32: a small seeded PRNG, so the data are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** (3, 32, 32) pixels: the colour (jittered) everywhere, or in stripes alternating with grey; plus noise. */
function image(colour: string, striped: boolean, r: () => number): Float32Array {
  const S = 32;
  const out = new Float32Array(3 * S * S);
  const base = COLOURS[colour].map((v) => v + (r() - 0.5) * 0.2);
  const period = 4 + Math.floor(r() * 5);
  const phase = Math.floor(r() * period);
  const vertical = r() < 0.5;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const grey = striped && ((vertical ? x : y) + phase) % period < period / 2;
      for (let c = 0; c < 3; c++) {
        const v = (grey ? 0.5 : base[c]) + (r() - 0.5) * 0.1;
        out[c * S * S + y * S + x] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return out;
}

const tokenizer = Tokenizer.build([
  ...COLOUR_NAMES.map(caption),
  "a very long caption that needs many words of padding",
]);

const TINY: ClipConfigInput = {
  vision: { imageSize: 32, patchSize: 8, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
  text: { dim: 32, layers: 1, heads: 2, mlpDim: 64, maxLength: 16 },
  embedDim: 32,
  vocabSize: tokenizer.vocabSize,
};

function rowNorms(flat: number[], cols: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < flat.length; i += cols) out.push(Math.hypot(...flat.slice(i, i + cols)));
  return out;
}

// --- tests ----------------------------------------------------------------------------------

test("a config error names its field", () => {
  assert.throws(() => parseClipConfig({ vocabSize: 20, text: { heads: 0 } }), /text\.heads/);
  assert.throws(() => parseClipConfig({ vocabSize: 20, text: { dim: 30, heads: 4 } }), /text\.dim/);
  assert.throws(() => parseClipConfig({ vocabSize: 20, vision: { imageSize: 30 } }), /vision\.imageSize/);
  assert.throws(() => parseClipConfig({ vocabSize: 20, embedDim: 1.5 }), /embedDim/);
  assert.throws(() => parseClipConfig({}), /vocabSize/);
  assert.throws(() => parseClipConfig({ vocabSize: 20, txt: {} }), /txt/);
  // Defaults as documented.
  const c = parseClipConfig({ vocabSize: 20 });
  assert.deepEqual(c.vision, {
    imageSize: 32,
    patchSize: 4,
    dim: 128,
    layers: 2,
    heads: 4,
    mlpDim: 512,
    stem: "patch",
  });
  assert.deepEqual(c.text, { dim: 128, layers: 2, heads: 4, mlpDim: 512, maxLength: 48 });
  assert.equal(c.embedDim, 128);
});

test("contrastive loss equals the symmetric cross-entropy computed by hand from the same logits", () => {
  const model = new ClipModel(TINY, { seed: 3 });
  const r = rng(1);
  const scorer = new ClipScorer(model, tokenizer);
  const names = ["red", "blue", "green"];
  tidy(() => {
    const pixels = scorer.pixels(names.map((c) => image(c, false, r)));
    const { ids, mask } = tokenizeTexts(tokenizer, names.map(caption), TINY.text?.maxLength ?? 16);
    const logits = noGrad(() => model.logits(pixels, ids, mask).toArray()); // (3, 3), row = image
    const B = names.length;
    const at = (i: number, j: number) => logits[i * B + j];
    // -log softmax(x)[k] = log(sum exp x) - x[k], in plain JS (float64).
    const nll = (xs: number[], k: number) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0)) - xs[k];
    const range = [...Array(B).keys()];
    const imageToText =
      range.reduce(
        (s, i) =>
          s +
          nll(
            range.map((j) => at(i, j)),
            i,
          ),
        0,
      ) / B;
    const textToImage =
      range.reduce(
        (s, j) =>
          s +
          nll(
            range.map((i) => at(i, j)),
            j,
          ),
        0,
      ) / B;
    // The two directions must differ here, or the test could not tell one from their mean.
    assert.ok(Math.abs(imageToText - textToImage) > 1e-3, `${imageToText} vs ${textToImage}`);
    const loss = model.contrastiveLoss(pixels, ids, mask).item();
    assert.ok(
      Math.abs(loss - (imageToText + textToImage) / 2) < 1e-5,
      `loss ${loss}, by hand ${(imageToText + textToImage) / 2}`,
    );
    // Logits are exp(logit_scale) * cos with logit_scale = log(1/0.07) at init.
    assert.ok(Math.abs(model.temperatureInverse().item() - 1 / 0.07) < 1e-3);
  });
  model.dispose();
});

test("padding does not change a text's embedding", () => {
  const model = new ClipModel(TINY, { seed: 4 });
  const text = caption("red");
  const long = "a very long caption that needs many words of padding";
  noGrad(() =>
    tidy(() => {
      const short = tokenizeTexts(tokenizer, [text, "red"], 16);
      const padded = tokenizeTexts(tokenizer, [text, long], 16);
      assert.ok(padded.ids.size(1) > short.ids.size(1) + 5, "the long partner must add padding");
      const a = model.encodeTexts(tokenizer, [text, "red"]).toArray().slice(0, TINY.embedDim);
      const b = model.encodeTexts(tokenizer, [text, long]).toArray().slice(0, TINY.embedDim);
      const alone = model.encodeTexts(tokenizer, [text]).toArray();
      const maxDiff = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
      assert.ok(maxDiff(a, b) < 1e-5, `short vs long partner differ by ${maxDiff(a, b)}`);
      assert.ok(maxDiff(a, alone) < 1e-5, `batched vs alone differ by ${maxDiff(a, alone)}`);
    }),
  );
  model.dispose();
});

test("image and text embeddings are unit-norm", () => {
  const model = new ClipModel(TINY, { seed: 5 });
  const scorer = new ClipScorer(model, tokenizer);
  const r = rng(2);
  noGrad(() =>
    tidy(() => {
      const images = model.encodeImages(scorer.pixels([image("red", false, r), image("blue", true, r)]));
      const texts = model.encodeTexts(tokenizer, [caption("red"), "a very long caption"]);
      assert.deepEqual(images.shape, [2, 32]);
      assert.deepEqual(texts.shape, [2, 32]);
      for (const n of [...rowNorms(images.toArray(), 32), ...rowNorms(texts.toArray(), 32)]) {
        assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
      }
    }),
  );
  model.dispose();
});

test("a tiny scorer trained on coloured images ranks every held-out image's own colour first", () => {
  const model = new ClipModel(TINY, { seed: 1 });
  const scorer = new ClipScorer(model, tokenizer);
  const captions = COLOUR_NAMES.map(caption);
  const heldOut = rng(99);
  const eval_ = () =>
    COLOUR_NAMES.flatMap((colour, k) =>
      [false, true].map((striped) => {
        const img = image(colour, striped, heldOut);
        const scores = scorer.score(captions.map((text) => ({ image: img, text })));
        const best = Math.max(...scores.filter((_, j) => j !== k));
        return scores[k] - best; // margin of the matching caption over the best mismatched one
      }),
    );
  const before = eval_();
  assert.ok(
    before.some((m) => m <= 0),
    "the untrained model already ranks every pair right: the test would prove nothing",
  );

  const opt = new AdamW([...model.parameters().values()], { lr: 1e-3, weightDecay: 0 });
  const start = new Map([...model.parameters()].map(([name, p]) => [name, p.toArray()]));
  const { ids, mask } = tokenizeTexts(tokenizer, captions, 16);
  const r = rng(7);
  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    // One image per colour per batch, so that each caption has exactly one positive.
    const loss = tidy(() => {
      const pixels = scorer.pixels(COLOUR_NAMES.map((c) => image(c, r() < 0.5, r)));
      const l = model.contrastiveLoss(pixels, ids, mask);
      l.backward();
      return l.item();
    });
    opt.stepOnce();
    opt.zeroGrad();
    losses.push(loss);
  }
  ids.dispose();
  mask.dispose();
  opt.dispose();
  assert.ok(losses[losses.length - 1] < 0.1 * losses[0], `loss ${losses[0]} -> ${losses[losses.length - 1]}`);
  for (const [name, p] of model.parameters()) {
    const moved = p.toArray().some((v, i) => v !== start.get(name)?.[i]);
    assert.ok(moved, `${name} did not change in training`);
  }
  const margins = eval_();
  assert.ok(
    margins.every((m) => m > 0),
    `held-out margins ${margins.map((m) => m.toFixed(2))}`,
  );
  model.dispose();
});

test("save/load round trip gives identical similarities and scores", () => {
  const model = new ClipModel(TINY, { seed: 6 });
  const r = rng(3);
  const images = [image("red", false, r), image("green", true, r), image("black", false, r)];
  const texts = [caption("red"), caption("green"), "a very long caption"];
  const scorer = new ClipScorer(model, tokenizer);
  const before = scorer.similarity(images, texts);
  const pairs = images.map((image, i) => ({ image, text: texts[i] }));
  const scoresBefore = scorer.score(pairs);
  // score = 100 * cos, one pair at a time.
  for (const [i, s] of scoresBefore.entries()) assert.ok(Math.abs(s - 100 * before[i][i]) < 1e-3);

  const dir = join(TMP, "clip");
  saveClip(dir, model, tokenizer, { note: "test" });
  assert.equal(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).model_type, CLIP_MODEL_TYPE);
  const loaded = loadClip(dir);
  const again = new ClipScorer(loaded.model, loaded.tokenizer);
  assert.deepEqual(again.similarity(images, texts), before);
  assert.deepEqual(again.score(pairs), scoresBefore);
  assert.deepEqual(loaded.model.config, model.config);
  // A fresh model (seed 0, as loadClip builds before copying) differs: the weights came from the file.
  const fresh = new ClipModel(TINY);
  assert.notDeepEqual(new ClipScorer(fresh, tokenizer).similarity(images, texts), before);
  fresh.dispose();
  loaded.model.dispose();
  model.dispose();

  // Another model's checkpoint is refused by its model_type, naming the file.
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, model_type: "selfsynth-vlm" }));
  assert.throws(() => loadClip(dir), /config\.json.*model_type/);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, text: { ...config.text, heads: 3 } }));
  assert.throws(() => loadClip(dir), /config\.json.*text\.dim/);
});

test("scoring frees every tensor it makes", () => {
  const model = new ClipModel(TINY, { seed: 8 });
  const scorer = new ClipScorer(model, tokenizer, 2);
  const r = rng(4);
  const pairs = ["red", "blue", "white"].map((c) => ({ image: image(c, false, r), text: caption(c) }));
  scorer.score(pairs); // warm up any lazily created state
  const live = liveTensorCount();
  scorer.score(pairs);
  scorer.similarity(
    pairs.map((p) => p.image),
    ["red"],
  );
  assert.equal(liveTensorCount(), live);
  assert.throws(() => scorer.score([{ image: new Float32Array(10), text: "red" }]), /image 0 holds 10 values/);
  model.dispose();
});
