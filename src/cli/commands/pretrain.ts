// `selfsynth pretrain vision|language|aligned|base|scorer`: trains the shipped models on a built world
// (src/train/pretrain/). The whole pipeline, with the world build and the evaluations, is
// scripts/make-assets.sh.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { STAGES, type Stage } from "../../train/pretrain/stages.js";
import { DEFAULT_CORPUS } from "../../world/corpus.js";
import { headList, nonNegativeInt, positiveInt, positiveNumber, probability } from "../options.js";

/** A JSON file of model-config overrides (a partial VLMConfig for aligned, ClipConfig for scorer). */
function readModelConfig(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`--config ${path}: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`--config ${path}: expected a JSON object of model-config fields`);
  }
  return value as Record<string, unknown>;
}

interface PretrainFlags {
  world: string;
  out: string;
  workDir?: string;
  from?: string;
  visionFrom?: string;
  readout?: string[];
  trainVision?: boolean;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmup?: number;
  threads: number;
  seed: number;
  resume?: boolean;
  config?: string;
  saveEvery?: number;
  logEvery?: number;
  corpusScenes?: number;
  corpusCreatures?: number;
  partnerRate?: number;
}

const STAGE_HELP = {
  vision:
    "the image tower alone, supervised on the pretraining split's scene graphs (what is in each patch, the scene, the creature)",
  language:
    "a fresh VLM's decoder on text alone: captions and descriptions of scenes drawn under a strong co-occurrence prior (the language prior's origin)",
  aligned:
    "a VLM (--from a language model, else fresh) with its tower from --vision-from, trained on the pretraining split's captions",
  base: "instruction-tune a model (--from, the aligned one) on the instruction split's descriptions and questions",
  scorer: "the CLIP-style image-text scorer, contrastive on the pretraining split's image-caption pairs",
} as const;

export function registerPretrain(program: Command): void {
  const pretrain = program
    .command("pretrain")
    .description("train the shipped models on a built world (see scripts/make-assets.sh)");
  for (const stage of STAGES) {
    const cmd = pretrain
      .command(stage)
      .description(STAGE_HELP[stage])
      .requiredOption("--world <dir>", "a built world (selfsynth world build --out <dir>)")
      .requiredOption(
        "--out <dir>",
        `the model directory to write (e.g. assets/${stage}); checkpoints go to <out>.work/`,
      );
    if (stage === "base") cmd.requiredOption("--from <dir>", "the model to start from (e.g. assets/aligned)");
    if (stage === "aligned")
      cmd.option("--from <dir>", "a `pretrain language` model whose decoder and tokenizer it starts from");
    if (stage === "language") {
      cmd
        .option("--corpus-scenes <n>", `scenes in the text corpus (default ${DEFAULT_CORPUS.scenes})`, nonNegativeInt)
        .option(
          "--corpus-creatures <n>",
          `creatures in the text corpus (default ${DEFAULT_CORPUS.creatures})`,
          nonNegativeInt,
        )
        .option(
          "--partner-rate <p>",
          `how often the corpus names a prior partner with its anchor, in [0, 1] (default ${DEFAULT_CORPUS.partnerRate})`,
          probability,
        );
    }
    if (stage === "aligned" || stage === "scorer") {
      cmd.option("--vision-from <dir>", "start the image tower from a `pretrain vision` model (e.g. assets/vision)");
    }
    if (stage === "aligned") {
      cmd.option(
        "--readout <heads>",
        "the --vision-from tagger's per-patch heads whose class probabilities the projector reads beside the tower's features, comma-separated (default: all; `none`: the features alone)",
        headList,
      );
    }
    if (stage === "aligned" || stage === "base") {
      cmd.option("--train-vision", "train the image tower too (default: frozen when it came from --vision-from)");
    }
    cmd
      .option("--steps <n>", "optimizer steps (default: the stage's, see STAGE_DEFAULTS)", positiveInt)
      .option("--batch-size <n>", "examples per step", positiveInt)
      .option("--lr <x>", "peak learning rate (cosine schedule after warmup)", positiveNumber)
      .option("--warmup <n>", "warmup steps (at most a tenth of the steps)", nonNegativeInt)
      .option("--threads <n>", "libtorch threads", positiveInt, 2)
      .option("--seed <n>", "model init, data order and prompt seed", nonNegativeInt, 0)
      .option("--work-dir <dir>", "where checkpoints and metrics go while training (default <out>.work/)")
      .option("--resume", "continue from the latest checkpoint in the work directory")
      .option("--save-every <n>", "checkpoint every n steps (default 250)", positiveInt)
      .option("--log-every <n>", "progress and metrics line every n steps (default 10)", positiveInt);
    if (stage === "vision" || stage === "scorer" || stage === "aligned" || stage === "language") {
      cmd.option("--config <json>", "a JSON file of model-config overrides (e.g. a smaller model)");
    }
    cmd.action(async (flags: PretrainFlags) => {
      await runPretrain(stage, flags);
    });
  }
}

async function runPretrain(stage: Stage, flags: PretrainFlags): Promise<void> {
  // Imported here so that loading the command does not load libtorch.
  const { pretrain } = await import("../../train/pretrain/index.js");
  const controller = new AbortController();
  const onSigint = () => {
    console.error(`\n[${stage}] stopping after this step; continue later with --resume`);
    controller.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    const result = await pretrain({
      stage,
      world: flags.world,
      out: flags.out,
      workDir: flags.workDir,
      from: flags.from,
      visionFrom: flags.visionFrom,
      readout: flags.readout,
      trainVision: flags.trainVision === true,
      steps: flags.steps,
      batchSize: flags.batchSize,
      lr: flags.lr,
      warmupSteps: flags.warmup,
      threads: flags.threads,
      seed: flags.seed,
      resume: flags.resume === true,
      saveEvery: flags.saveEvery,
      logEvery: flags.logEvery,
      corpus: { scenes: flags.corpusScenes, creatures: flags.corpusCreatures, partnerRate: flags.partnerRate },
      modelConfig: flags.config === undefined ? undefined : readModelConfig(flags.config),
      command: ["selfsynth", ...process.argv.slice(2)].join(" "),
      signal: controller.signal,
    });
    if (result.stopped) {
      console.log(`[${stage}] stopped at step ${result.steps}; the latest checkpoint is in ${result.workDir}`);
      process.exitCode = 130;
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
}
