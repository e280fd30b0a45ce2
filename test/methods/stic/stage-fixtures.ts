// Fixtures of the STIC stage tests (and of their child process): a tiny 32x32 world, a tiny
// random-weights VLM on a tokenizer built from the world's texts, and recipes at tiny sizes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { ClipModel } from "../../../src/models/clip.js";
import { saveClip } from "../../../src/models/clip-io.js";
import { Tokenizer } from "../../../src/models/tokenizer.js";
import { VLM } from "../../../src/models/vlm.js";
import { loadVLM, saveVLM } from "../../../src/models/vlm-io.js";
import { ProgressReporter } from "../../../src/run/progress.js";
import type { RunDeps } from "../../../src/run/runner.js";
import { type VOCABULARY_SWEEP, worldVocabularyTexts } from "../../../src/train/world-data.js";
import { loadWorldConfig } from "../../../src/world/config.js";

/** 32x32 images (rendered words must fit a grid cell: one letter at this size). */
export const WORLD_YAML = `seed: 2
image: { width: 32, height: 32 }
words: { list: [X, Z] }
splits:
  pretraining: { scenes: 0, creatures: 0 }
  instruction: { scenes: 4, creatures: 2 }
  pool: { scenes: 6, creatures: 2, biased: true, priorBreakingShare: 0 }   # pinned: the seed gives a dropped pair
  validation: { scenes: 0, creatures: 0 }
  test: { scenes: 3, creatures: 1 }
`;

export function writeWorldConfig(path: string): string {
  writeFileSync(path, WORLD_YAML);
  return path;
}

/**
 * A random-weights VLM for 32x32 images (patch 8: 16 image tokens) on a tokenizer of the world's
 * vocabulary (worldVocabularyTexts with a small sweep: the full sweep takes seconds). Training on
 * the world's own descriptions needs more than the default maxPositions.
 */
export function saveTinyWorldVLM(dir: string, worldConfigPath: string, seed = 7, maxPositions = 160): string {
  const config = loadWorldConfig(worldConfigPath);
  // The parameter's type is VOCABULARY_SWEEP's literal (`as const`) type: 1000 and 200 only.
  const sweep = { scenes: 60, creatures: 20 } as unknown as typeof VOCABULARY_SWEEP;
  const tokenizer = Tokenizer.build(worldVocabularyTexts(config, sweep));
  const model = new VLM(
    {
      vision: { imageSize: 32, patchSize: 8, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
      projectorHidden: 64,
      decoder: { dim: 64, layers: 2, heads: 4, mlpDim: 128, maxPositions, ropeBase: 10000 },
      vocabSize: tokenizer.vocabSize,
      imageTokenId: tokenizer.specialIds.image,
    },
    { seed },
  );
  mkdirSync(dir, { recursive: true });
  saveVLM(dir, model, tokenizer);
  model.dispose();
  return dir;
}

/** A stage test file's temp folder, the tiny world's config in it, its build folder and a tiny VLM. */
export interface TinyWorldStage {
  dir: string;
  world: string;
  worldDir: string;
  base: string;
}

/**
 * The set-up every method's stage test starts from: the folder and the world's config at once,
 * the VLM (seconds) saved in a `before` hook, the folder removed after the file's tests.
 * `maxPositions` as saveTinyWorldVLM's (room for the world's own descriptions: 320).
 */
export function tinyWorldStage(prefix: string, maxPositions?: number): TinyWorldStage {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = {
    dir,
    world: writeWorldConfig(join(dir, "world.yaml")),
    worldDir: join(dir, "world"),
    base: join(dir, "base"),
  };
  before(() => {
    saveTinyWorldVLM(fixture.base, fixture.world, 7, maxPositions);
  });
  return fixture;
}

export interface RecipeOptions {
  world: string;
  worldDir: string;
  model: string;
  /** Default both STIC stages. */
  stages?: ("stage1" | "stage2")[];
  objective?: "dpo" | "sft-chosen";
  benches?: string[];
  /** Stage 1's train options (a YAML flow mapping). */
  train1?: string;
  /** More stage-1 options, one `key: value` line each. */
  extra1?: string[];
}

/** Both STIC stages at tiny sizes (3 chunks of pairs, 2 of infused records, 2 training steps each). */
export function writeSticRecipe(path: string, o: RecipeOptions): string {
  const stages = o.stages ?? ["stage1", "stage2"];
  const benches = o.benches ?? ["pope-random", "capabilities"];
  const stage1 = `  - name: stic-stage1
    type: stic-preferences
    images: 7
    generation: { temperature: 0.2, maxTokens: 12, chunkSize: 3 }
    objective: ${o.objective ?? "dpo"}
    dpo: { beta: 0.1, alpha: 0.001 }
    lora: { r: 4, alpha: 8 }
    train: ${o.train1 ?? "{ lr: 1.0e-3, maxSteps: 2, batchSize: 2 }"}
${(o.extra1 ?? []).map((line) => `    ${line}\n`).join("")}`;
  const stage2 = `  - name: stic-stage2
    type: stic-infused-sft
    questions: 5
    generation: { temperature: 0.2, maxTokens: 12, chunkSize: 3 }
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`;
  writeFileSync(
    path,
    `name: stic-test
seed: 0
threads: 1
world: { config: ${o.world}, dir: ${o.worldDir} }
model: ${o.model}
eval: { benches: [${benches.join(", ")}], limit: 3, batchSize: 2 }
stages:
${stages.includes("stage1") ? stage1 : ""}${stages.includes("stage2") ? stage2 : ""}`,
  );
  return path;
}

/** The real deps (embedded backend, world benches, libtorch) with the progress output collected. */
export function quietDeps(lines: string[] = []): Partial<RunDeps> {
  return { reporter: new ProgressReporter({ tty: false, write: (t) => lines.push(t) }) };
}

/** A tiny random-weights CLIP-style scorer over `base`'s tokenizer, saved at `<dir>/scorer`; its path. */
export function saveTinyScorer(dir: string, base: string): string {
  const { tokenizer } = loadVLM(base);
  const path = join(dir, "scorer");
  const clip = new ClipModel(
    {
      vision: { imageSize: 32, patchSize: 8, dim: 32, layers: 1, heads: 2, mlpDim: 64 },
      text: { dim: 32, layers: 1, heads: 2, mlpDim: 64, maxLength: 32 },
      embedDim: 32,
      vocabSize: tokenizer.vocabSize,
    },
    { seed: 5 },
  );
  saveClip(path, clip, tokenizer);
  clip.dispose();
  return path;
}
