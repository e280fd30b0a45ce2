// LoRA adapters on disk as PEFT saves them (https://github.com/huggingface/peft,
// `save_pretrained`), so that the adapter files move between selfsynth and PEFT-based tools:
//
//   adapter_config.json        { peft_type: "LORA", r, lora_alpha, lora_dropout, target_modules, ... }
//   adapter_model.safetensors  base_model.model.<module path>.lora_A.weight (r, in)
//                              base_model.model.<module path>.lora_B.weight (out, r)
//
// The module paths are the VLM's own (decoder.layers.{i}.self_attn.q_proj, ...). The scale is
// lora_alpha / r (PEFT without rsLoRA).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadStateInto } from "./checkpoint.js";
import {
  CheckpointError,
  fromEngine,
  type RawTensor,
  readSafetensors,
  writeFileAtomic,
  writeSafetensors,
} from "./safetensors.js";
import type { LoraConfig, VLM } from "./vlm.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
/** PEFT's prefix for the wrapped model's parameters. */
export const PEFT_PREFIX = "base_model.model.";

/** adapter_config.json as PEFT writes it (the fields we set; PEFT reads the rest as defaults). */
export interface PeftAdapterConfig {
  peft_type: "LORA";
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  bias: "none";
  task_type: "CAUSAL_LM";
  base_model_name_or_path: string;
  fan_in_fan_out: false;
  inference_mode: boolean;
}

export function peftConfigOf(lora: LoraConfig, baseModel: string): PeftAdapterConfig {
  return {
    peft_type: "LORA",
    r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    target_modules: [...lora.targetModules],
    bias: "none",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    fan_in_fan_out: false,
    inference_mode: true,
  };
}

/** Writes the model's adapters to dir (created if needed); each file is written atomically. */
export function saveLora(dir: string, model: VLM, options: { baseModel?: string } = {}): void {
  const lora = model.lora;
  if (lora === null) throw new CheckpointError(dir, "the model has no LoRA adapters to save");
  if ((lora.modulesToSave ?? []).length > 0)
    throw new CheckpointError(dir, "modulesToSave are not written as an adapter; merge (mergeLora) and save the model");
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of model.loraParameters()) raw.set(PEFT_PREFIX + name, fromEngine(t));
  mkdirSync(dir, { recursive: true });
  const config = peftConfigOf(lora, options.baseModel ?? "");
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), raw, { format: "pt" });
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), [Buffer.from(`${JSON.stringify(config, null, 2)}\n`, "utf8")]);
}

/** Reads and checks adapter_config.json into a LoraConfig. */
export function readLoraConfig(dir: string): LoraConfig {
  const path = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(path)) throw new CheckpointError(path, "missing");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new CheckpointError(path, `cannot read (${(error as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new CheckpointError(path, "not a JSON object");
  const c = raw as Record<string, unknown>;
  const bad = (field: string, want: string) =>
    new CheckpointError(path, `${field}: expected ${want}, got ${JSON.stringify(c[field])}`);
  if (c.peft_type !== "LORA") throw bad("peft_type", '"LORA"');
  if (typeof c.r !== "number" || !Number.isInteger(c.r) || c.r < 1) throw bad("r", "a positive integer");
  if (typeof c.lora_alpha !== "number" || !(c.lora_alpha > 0)) throw bad("lora_alpha", "a number > 0");
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) throw bad("lora_dropout", "a number in [0, 1)");
  if (
    !Array.isArray(c.target_modules) ||
    !c.target_modules.every((m) => typeof m === "string") ||
    c.target_modules.length === 0
  ) {
    throw bad("target_modules", "a non-empty list of module names");
  }
  if (c.bias !== undefined && c.bias !== "none") throw bad("bias", '"none" (bias adapters are not supported)');
  if (c.fan_in_fan_out === true) throw bad("fan_in_fan_out", "false");
  for (const unsupported of ["use_rslora", "use_dora"]) {
    if (c[unsupported] === true) throw bad(unsupported, "false (not supported)");
  }
  return { r: c.r, alpha: c.lora_alpha, dropout, targetModules: c.target_modules as string[] };
}

/** Adds adapters from dir to a model without any and loads their weights (names and shapes checked). */
export function loadLora(dir: string, model: VLM): LoraConfig {
  const config = readLoraConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  const { tensors } = readSafetensors(file);
  const renamed = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    if (!name.startsWith(PEFT_PREFIX))
      throw new CheckpointError(file, `name does not start with "${PEFT_PREFIX}"`, name);
    renamed.set(name.slice(PEFT_PREFIX.length), t);
  }
  try {
    model.addLora(config);
  } catch (error) {
    throw new CheckpointError(join(dir, ADAPTER_CONFIG_FILE), (error as Error).message);
  }
  try {
    loadStateInto(model.loraParameters(), renamed, file);
  } catch (error) {
    model.removeLora();
    throw error;
  }
  return config;
}
