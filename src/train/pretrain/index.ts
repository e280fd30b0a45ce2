// The shipped models' training (DESIGN.md, SceneWorld: shipped checkpoints), five stages on a
// built world (`selfsynth world build`):
//
//   language a fresh VLM's decoder on text alone, a corpus that follows the co-occurrence prior
//            (world/corpus.ts): where the base's language prior comes from.
//   aligned  the language model (--from; or a fresh VLM) with its tower from `vision`, trained on
//            the captions of the pretraining split: the starting point before instruction tuning
//            (COMPACT's).
//   base     `aligned` fine-tuned on the instruction split (descriptions and questions, biased
//            by the world's co-occurrence priors): the model the methods improve.
//   scorer   the CLIP-style image-text model, contrastive on the pretraining image-caption pairs.
//
//   vision   the image tower alone, supervised on the pretraining split's scene graphs
//            (models/tagger.ts, train/tagger-data.ts): aligned, base and scorer start from it
//            (--vision-from); aligned and base keep it frozen, as LLaVA keeps its CLIP tower.
//
// Each stage writes `<out>/` (the loadable model: config.json, model.safetensors, tokenizer.json,
// plus train-info.json and metrics.jsonl), and keeps its resumable training checkpoints in
// `<out>.work/` (never shipped). `<out>/` is assembled in a temporary directory and swapped
// into place, so it is always a complete model.
//
// One module per stage: vision.ts, language.ts, vlm.ts (aligned and base), scorer.ts; ship.ts writes `<out>/`
// and train-info.json; common.ts holds the defaults, options and progress lines they share.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { setNumThreads } from "../../engine/index.js";
import { latestCheckpoint } from "../checkpoint.js";
import { readWorld, WorldDataError } from "../world-data.js";
import type { PretrainOptions, PretrainResult } from "./common.js";
import { trainLanguage } from "./language.js";
import { trainScorer } from "./scorer.js";
import { checkShippedDir } from "./ship.js";
import { trainVision } from "./vision.js";
import { trainVlmStage } from "./vlm.js";

export {
  type PretrainOptions,
  type PretrainResult,
  STAGE_DEFAULTS,
  STAGES,
  type Stage,
  type StageDefaults,
  type TrainInfo,
} from "./common.js";
export { clipCollate, worldClipConfig } from "./scorer.js";
export { readTrainInfo } from "./ship.js";
export { taggerValidation, worldTagger } from "./vision.js";
export { lengthGroupedBatches, worldVlmConfig } from "./vlm.js";

/** Runs one stage to its last step (or until the signal stops it, leaving a resumable checkpoint). */
export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const started = performance.now();
  const log = options.log ?? console.log;
  if (options.threads !== undefined) setNumThreads(options.threads);
  const world = readWorld(options.world);
  const out = resolve(options.out);
  checkShippedDir(out);
  const workDir = resolve(options.workDir ?? `${out}.work`);
  if (workDir === out) throw new WorldDataError(`the work directory must differ from --out (${out})`);
  if (!options.resume && (latestCheckpoint(workDir) !== null || existsSync(join(workDir, "metrics.jsonl")))) {
    throw new WorldDataError(
      `${workDir} already holds a run: pass --resume (resume: true) to continue it, or delete it to start afresh`,
    );
  }
  const run = { ...options, out, workDir, log, world, started };
  if (options.stage === "scorer") return trainScorer(run);
  if (options.stage === "vision") return trainVision(run);
  if (options.stage === "language") return trainLanguage(run);
  return trainVlmStage(run);
}
