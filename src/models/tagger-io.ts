// Saving and loading the vision tagger (tagger.ts) as a checkpoint directory (checkpoint.ts):
//
//   config.json        { "model_type": "selfsynth-vision-tagger", ...TaggerConfig }
//   model.safetensors  vision.* (the tower the VLM and the scorer reuse) and heads.*
//
// loadVisionTowerInto copies the tower into another model's `vision.*` parameters (the VLM's or
// the scorer's), after checking that the two towers have the same config; with a readout, also
// the named per-patch heads (`heads.<name>.*`) into the VLM's `vision.readout.<name>.*`.
import { join } from "node:path";
import type { Tensor } from "../engine/index.js";
import { CONFIG_FILE, loadCheckpoint, loadStateInto, saveCheckpoint, WEIGHTS_FILE } from "./checkpoint.js";
import { CheckpointError } from "./safetensors.js";
import { type TaggerConfig, VisionTagger, validateTaggerConfig } from "./tagger.js";
import type { VisionConfig } from "./vision.js";

export const TAGGER_MODEL_TYPE = "selfsynth-vision-tagger";

export function saveTagger(dir: string, model: VisionTagger, metadata?: Record<string, string>): void {
  saveCheckpoint(dir, {
    config: { model_type: TAGGER_MODEL_TYPE, ...model.config },
    tensors: model.parameters,
    ...(metadata === undefined ? {} : { metadata }),
  });
}

function taggerConfigOf(dir: string, config: Record<string, unknown>): TaggerConfig {
  const file = join(dir, CONFIG_FILE);
  const { model_type: modelType, ...rest } = config;
  if (modelType !== TAGGER_MODEL_TYPE) {
    throw new CheckpointError(file, `model_type is ${JSON.stringify(modelType)}, expected "${TAGGER_MODEL_TYPE}"`);
  }
  try {
    validateTaggerConfig(rest as unknown as TaggerConfig);
  } catch (error) {
    throw new CheckpointError(file, (error as Error).message);
  }
  return rest as unknown as TaggerConfig;
}

/** Reads a tagger saved by saveTagger; every tensor is checked by name, shape and dtype. */
export function loadTagger(dir: string): VisionTagger {
  const loaded = loadCheckpoint(dir);
  const model = new VisionTagger(taggerConfigOf(dir, loaded.config));
  try {
    loadStateInto(model.parameters, loaded.tensors, join(dir, WEIGHTS_FILE));
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

const sameVision = (a: VisionConfig, b: VisionConfig) =>
  (["imageSize", "patchSize", "dim", "layers", "heads", "mlpDim"] as const).every((k) => a[k] === b[k]) &&
  (a.stem ?? "patch") === (b.stem ?? "patch");

/** The heads a VLM can read per patch (config.readout): a tagger's single-label per-patch heads. */
export function readoutHeads(config: TaggerConfig): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, h] of Object.entries(config.heads)) {
    if (h.pool === "patches" && h.kind === "single") out[name] = h.classes.length;
  }
  return out;
}

/** readoutHeads of the tagger checkpoint in dir. */
export function taggerReadoutHeads(dir: string): Record<string, number> {
  return readoutHeads(taggerConfigOf(dir, loadCheckpoint(dir).config));
}

/**
 * Copies a tagger checkpoint's tower into params (a model's parameters; only its `vision.*`
 * entries are written), and the heads of `readout` into `vision.readout.<name>.*`. The towers'
 * configs must be equal and each readout head a per-patch single-label head of the tagger with
 * as many classes: a mismatch names both.
 */
export function loadVisionTowerInto(
  dir: string,
  vision: VisionConfig,
  params: Map<string, Tensor>,
  readout: Record<string, number> = {},
): void {
  const loaded = loadCheckpoint(dir);
  const config = taggerConfigOf(dir, loaded.config);
  const configFile = join(dir, CONFIG_FILE);
  if (!sameVision(config.vision, vision)) {
    throw new CheckpointError(
      configFile,
      `its vision tower ${JSON.stringify(config.vision)} differs from the model's ${JSON.stringify(vision)}`,
    );
  }
  const available = readoutHeads(config);
  for (const [name, classes] of Object.entries(readout)) {
    if (available[name] !== classes) {
      throw new CheckpointError(
        configFile,
        `the model reads head ${name} with ${classes} classes; the tagger's per-patch single-label heads are ${JSON.stringify(available)}`,
      );
    }
  }
  const isReadout = (name: string) => name.startsWith("vision.readout.");
  const target = new Map([...params].filter(([name]) => name.startsWith("vision.") && !isReadout(name)));
  const tensors = new Map([...loaded.tensors].filter(([name]) => name.startsWith("vision.")));
  for (const name of Object.keys(readout)) {
    for (const part of ["weight", "bias"]) {
      const key = `vision.readout.${name}.${part}`;
      const param = params.get(key);
      const tensor = loaded.tensors.get(`heads.${name}.${part}`);
      if (param === undefined) throw new RangeError(`loadVisionTowerInto: the model has no ${key}`);
      if (tensor !== undefined) tensors.set(key, tensor);
      target.set(key, param);
    }
  }
  loadStateInto(target, tensors, join(dir, WEIGHTS_FILE));
}
