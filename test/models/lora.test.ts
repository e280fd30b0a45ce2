import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AdamW, crossEntropy, noGrad, setNumThreads, type Tensor, tensorFrom, tidy } from "../../src/engine/index.js";
import { encodeChat } from "../../src/models/chat-template.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadLora, saveLora } from "../../src/models/lora-io.js";
import { readSafetensors, writeSafetensors } from "../../src/models/safetensors.js";
import { Tokenizer } from "../../src/models/tokenizer.js";
import type { TrainBatch } from "../../src/models/trainable.js";
import { type LoraConfig, VLM, type VLMConfig } from "../../src/models/vlm.js";

setNumThreads(1);

const tokenizer = Tokenizer.build(["describe the image.", "a red circle on the left.", "two blue squares."]);
const config: VLMConfig = {
  vision: { imageSize: 8, patchSize: 4, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
  projectorHidden: 64,
  decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions: 64, ropeBase: 10000 },
  vocabSize: tokenizer.vocabSize,
  imageTokenId: tokenizer.specialIds.image,
};
const LORA: LoraConfig = {
  r: 4,
  alpha: 8,
  dropout: 0.1,
  targetModules: ["q_proj", "v_proj", "o_proj", "gate_proj", "down_proj"],
};

function batch(): TrainBatch {
  const image = Float32Array.from({ length: 3 * 64 }, (_, i) => ((i * 37) % 17) / 17);
  const rows = ["a red circle on the left.", "two blue squares."].map((answer) =>
    encodeChat(
      tokenizer,
      [
        { role: "user", content: "<image> Describe the image." },
        { role: "assistant", content: answer },
      ],
      {
        numImageTokens: 4,
        addGenerationPrompt: false,
      },
    ),
  );
  const T = Math.max(...rows.map((r) => r.inputIds.length));
  const ids = new BigInt64Array(2 * T);
  const labels = new BigInt64Array(2 * T).fill(-100n);
  const mask = new Uint8Array(2 * T);
  rows.forEach((r, b) => {
    r.inputIds.forEach((id, t) => {
      ids[b * T + t] = BigInt(id);
      labels[b * T + t] = BigInt(r.labels[t]);
      mask[b * T + t] = 1;
    });
  });
  const pixels = new Float32Array(2 * image.length);
  pixels.set(image);
  pixels.set(
    image.map((v) => 1 - v),
    image.length,
  );
  return {
    inputIds: tensorFrom(ids, [2, T]),
    attentionMask: tensorFrom(mask, [2, T]),
    labels: tensorFrom(labels, [2, T]),
    pixelValues: tensorFrom(pixels, [2, 3, 8, 8]),
  };
}

function logitsOf(model: VLM): Float32Array {
  return noGrad(() => tidy(() => model.forward(batch()).toFloat32()));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A few AdamW steps on the trainable parameters (dropout on), so that every B is non-zero. */
function train(model: VLM, steps: number): void {
  const params = [...model.trainableParameters().values()];
  const opt = new AdamW(params, { lr: 1e-2, weightDecay: 0 });
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      const b = batch();
      const logits: Tensor = model.forward(b, { training: true });
      const [B, T, V] = logits.shape;
      crossEntropy(
        logits.slice(1, 0, T - 1).reshape([B * (T - 1), V]),
        b.labels.slice(1, 1).reshape([B * (T - 1)]),
      ).backward();
    });
    opt.stepOnce();
    opt.zeroGrad();
  }
  opt.dispose();
}

test("LoRA: only adapters train; disabled equals the base; merged equals unmerged", () => {
  const model = new VLM(config, { seed: 4 });
  try {
    const base = logitsOf(model);
    const baseWeights = new Map([...model.baseParameters()].map(([k, t]) => [k, t.toFloat32()]));
    model.addLora(LORA);
    const trainable = [...model.trainableParameters().keys()];
    assert.equal(trainable.length, 2 * 2 * LORA.targetModules.length);
    assert.ok(trainable.includes("decoder.layers.1.mlp.down_proj.lora_B.weight"));
    assert.ok(trainable.includes("decoder.layers.0.self_attn.q_proj.lora_A.weight"));
    assert.ok(!trainable.some((k) => k.includes("k_proj") || k.includes("up_proj")));
    assert.deepEqual(model.parameters.get("decoder.layers.0.self_attn.q_proj.lora_A.weight")?.shape, [4, 64]);
    assert.deepEqual(model.parameters.get("decoder.layers.0.mlp.down_proj.lora_B.weight")?.shape, [64, 4]);
    // B = 0 at init: the adapted model starts equal to the base.
    assert.ok(maxAbsDiff(logitsOf(model), base) < 1e-6);

    train(model, 4);
    for (const [k, t] of model.loraParameters()) {
      if (k.endsWith("lora_B.weight"))
        assert.ok(
          t.toFloat32().some((v) => v !== 0),
          `${k} trained`,
        );
    }
    for (const [k, t] of model.baseParameters())
      assert.equal(maxAbsDiff(t.toFloat32(), baseWeights.get(k) as Float32Array), 0, `${k} frozen`);
    const adapted = logitsOf(model);
    assert.ok(maxAbsDiff(adapted, base) > 1e-3, "the adapter changes the output");

    model.setLoraEnabled(false);
    assert.ok(maxAbsDiff(logitsOf(model), base) < 1e-6, "adapter off = base model (DPO reference)");
    model.setLoraEnabled(true);
    assert.ok(maxAbsDiff(logitsOf(model), adapted) < 1e-6);

    model.mergeLora();
    assert.equal(model.lora, null);
    assert.equal(model.loraParameters().size, 0);
    const merged = logitsOf(model);
    assert.ok(maxAbsDiff(merged, adapted) < 1e-5, `merged vs unmerged: ${maxAbsDiff(merged, adapted)}`);
    assert.equal(model.trainableParameters().size, model.parameters.size);
    assert.ok([...model.parameters.values()].every((t) => t.requiresGrad));
  } finally {
    model.dispose();
  }
});

test("LoRA adapters save and load in PEFT's format", () => {
  const dir = mkdtempSync(join(tmpdir(), "lora-io-"));
  const model = new VLM(config, { seed: 4 });
  const fresh = new VLM(config, { seed: 4 }); // the same base weights
  try {
    model.addLora(LORA);
    train(model, 3);
    const adapted = logitsOf(model);
    saveLora(dir, model, { baseModel: "runs/base" });

    const cfg = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG_FILE), "utf8"));
    assert.deepEqual(cfg, {
      peft_type: "LORA",
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.1,
      target_modules: ["q_proj", "v_proj", "o_proj", "gate_proj", "down_proj"],
      bias: "none",
      task_type: "CAUSAL_LM",
      base_model_name_or_path: "runs/base",
      fan_in_fan_out: false,
      inference_mode: true,
    });
    const { tensors } = readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
    const keys = [...tensors.keys()].sort();
    assert.equal(keys.length, 20);
    assert.deepEqual(keys.slice(0, 4), [
      "base_model.model.decoder.layers.0.mlp.down_proj.lora_A.weight",
      "base_model.model.decoder.layers.0.mlp.down_proj.lora_B.weight",
      "base_model.model.decoder.layers.0.mlp.gate_proj.lora_A.weight",
      "base_model.model.decoder.layers.0.mlp.gate_proj.lora_B.weight",
    ]);
    assert.ok(keys.includes("base_model.model.decoder.layers.1.self_attn.v_proj.lora_B.weight"));
    assert.deepEqual(tensors.get("base_model.model.decoder.layers.1.self_attn.q_proj.lora_A.weight")?.shape, [4, 64]);

    const loaded = loadLora(dir, fresh);
    assert.deepEqual(loaded, LORA);
    assert.equal(maxAbsDiff(logitsOf(fresh), adapted), 0);
    fresh.removeLora();

    // A missing tensor is an error naming it; the model is left without adapters.
    const broken = new Map(tensors);
    broken.delete("base_model.model.decoder.layers.1.self_attn.o_proj.lora_B.weight");
    writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), broken);
    assert.throws(() => loadLora(dir, fresh), /decoder\.layers\.1\.self_attn\.o_proj\.lora_B\.weight/);
    assert.equal(fresh.lora, null);
    // A config with another rank does not fit the tensors.
    writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors);
    writeFileSync(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify({ ...cfg, r: 8 }));
    assert.throws(() => loadLora(dir, fresh), /lora_A\.weight.*\[4, 64\]/s);
    writeFileSync(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify({ ...cfg, peft_type: "IA3" }));
    assert.throws(() => loadLora(dir, fresh), /peft_type/);
    writeFileSync(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify({ ...cfg, target_modules: ["c_attn"] }));
    assert.throws(() => loadLora(dir, fresh), /c_attn/);
    assert.ok(existsSync(join(dir, ADAPTER_WEIGHTS_FILE)));
  } finally {
    model.dispose();
    fresh.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("LoRA modulesToSave: lm_head and embed_tokens train whole beside the adapters, merge keeps them; removeLora and saveLora refuse", () => {
  const model = new VLM(config, { seed: 5 });
  try {
    const before = new Map([...model.baseParameters()].map(([k, t]) => [k, t.toFloat32()]));
    model.addLora({ ...LORA, modulesToSave: ["lm_head", "embed_tokens"] });
    const trainable = [...model.trainableParameters().keys()];
    assert.equal(trainable.length, 2 * 2 * LORA.targetModules.length + 2);
    assert.ok(trainable.includes("lm_head.weight") && trainable.includes("decoder.embed_tokens.weight"));
    train(model, 3);
    for (const [k, t] of model.baseParameters()) {
      const moved = maxAbsDiff(t.toFloat32(), before.get(k) as Float32Array) > 0;
      const saved = k === "lm_head.weight" || k === "decoder.embed_tokens.weight";
      assert.equal(moved, saved, `${k}: ${saved ? "trains" : "frozen"}`);
    }
    assert.throws(() => model.removeLora(), /modulesToSave trained in place/);
    const dir = mkdtempSync(join(tmpdir(), "lora-save-"));
    try {
      assert.throws(() => saveLora(dir, model), /modulesToSave are not written as an adapter/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const adapted = logitsOf(model);
    const head = model.parameters.get("lm_head.weight")?.toFloat32() as Float32Array;
    model.mergeLora();
    assert.ok(maxAbsDiff(logitsOf(model), adapted) < 1e-5, "merged = unmerged");
    assert.equal(maxAbsDiff(model.parameters.get("lm_head.weight")?.toFloat32() as Float32Array, head), 0);
  } finally {
    model.dispose();
  }
});

test("LoRA modulesToSave: an unknown module is refused", () => {
  const model = new VLM(config, { seed: 6 });
  try {
    assert.throws(
      () => model.addLora({ ...LORA, modulesToSave: ["wte" as "lm_head"] }),
      /lora.modulesToSave: "wte" is not one of lm_head, embed_tokens/,
    );
  } finally {
    model.dispose();
  }
});
