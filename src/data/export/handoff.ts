// The hand-off of a stage whose model is served (its weights are not here to train): the records
// it would have trained on, exported for the established trainers, with a ready-to-run config of
// each and a TRAIN.md that says what to run, how to serve the result and how the run continues.
// Written whole into `<stage>/export/` (built aside and swapped in: writeDirAtomicSync):
//
//   TRAIN.md                    the steps, the mapping of the stage's settings, what is not mapped
//   trl/                        TRL JSONL (preference.jsonl or sft.jsonl) and images/
//   trl-parquet/                the same as Parquet, images embedded (what train_trl.py reads)
//   llamafactory/               sharegpt JSON, dataset_info.json and images/
//   train_trl.py                TRL: DPOTrainer or SFTTrainer, LoRA, the merged model in out/trl/merged
//   llamafactory-train.yaml     LLaMA-Factory: llamafactory-cli train, adapters in out/llamafactory/lora
//   llamafactory-merge.yaml     LLaMA-Factory: llamafactory-cli export, merged in out/llamafactory/merged
//
// Every path in these files is relative to the export folder, so the folder can be copied to a
// GPU machine whole.
import { join } from "node:path";
import { writeDirAtomicSync } from "../../util/atomic-dir.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { exportDataset } from "./index.js";
import {
  LLAMAFACTORY_FILES,
  llamaFactoryMergeYaml,
  llamaFactoryTrainYaml,
  TEMPLATE_PLACEHOLDER,
} from "./llamafactory-train.js";
import { planNotes, type TrainPlan } from "./train-plan.js";
import { trlTrainScript } from "./trl-train.js";

export interface HandoffOptions {
  /** The JSONL records the stage trains on (its folder is the dataset root). */
  records: string;
  /** `<stage>/export`: replaced whole. */
  out: string;
  plan: TrainPlan;
  /** Where the data came from, for TRAIN.md. */
  source: { run: string; servedModel: string; baseUrls: readonly string[] };
  /** The command that resumes the run (`selfsynth run RECIPE --out RUN ...`); TRAIN.md adds --continue-with. */
  runCommand: string;
}

/** What the hand-off wrote and the commands it asks for (paths relative to `exportDir` unless said). */
export interface Handoff {
  exportDir: string;
  /** `<exportDir>/TRAIN.md`. */
  guide: string;
  objective: TrainPlan["objective"];
  baseModel: string;
  records: number;
  /** Run in the export folder. */
  commands: { trl: string; llamaFactory: string; serve: string };
  /** The command that continues the run with the trained model once it is served. */
  continueCommand: string;
  /** The model name the guide suggests serving it as (the stage's name). */
  servedName: string;
  /** What the configs do not carry over (planNotes). */
  notMapped: string[];
}

/** Files of the export, relative to it. */
export const HANDOFF_FILES = {
  guide: "TRAIN.md",
  trl: "trl",
  trlParquet: "trl-parquet",
  llamaFactory: "llamafactory",
  trlScript: "train_trl.py",
  trlOut: "out/trl",
} as const;

/** The hand-off's commands and the continue command, from the plan and the run command. */
function commandsOf(plan: TrainPlan, runCommand: string) {
  const servedName = plan.stage;
  return {
    servedName,
    commands: {
      trl: `python ${HANDOFF_FILES.trlScript}`,
      llamaFactory: `llamafactory-cli train ${LLAMAFACTORY_FILES.train} && llamafactory-cli export ${LLAMAFACTORY_FILES.merge}`,
      serve: `vllm serve ${HANDOFF_FILES.trlOut}/merged --served-model-name ${servedName} --port 8000`,
    },
    continueCommand: `${runCommand} --continue-with http://HOST:8000/v1 --continue-model ${servedName}`,
  };
}

export function writeHandoff(options: HandoffOptions): Handoff {
  const { plan, out } = options;
  const asSft = plan.objective === "sft";
  const kind = asSft ? "sft" : "preference";
  let records = 0;
  writeDirAtomicSync(out, (tmp) => {
    const trl = exportDataset({ data: options.records, format: "trl-jsonl", out: join(tmp, HANDOFF_FILES.trl), asSft });
    if (!asSft && trl.sft > 0)
      throw new Error(`${options.records}: DPO needs preference records only (${trl.sft} SFT records among them)`);
    records = asSft ? trl.sft : trl.preference;
    if (records === 0) throw new Error(`${options.records}: no records to train on`);
    exportDataset({ data: options.records, format: "trl-parquet", out: join(tmp, HANDOFF_FILES.trlParquet), asSft });
    exportDataset({
      data: options.records,
      format: "llamafactory",
      out: join(tmp, HANDOFF_FILES.llamaFactory),
      asSft,
      name: "selfsynth",
    });
    const lf = {
      datasetDir: HANDOFF_FILES.llamaFactory,
      dataset: `selfsynth_${kind}`,
      output: "out/llamafactory/lora",
      merged: "out/llamafactory/merged",
    };
    const script = trlTrainScript(plan, {
      data: `${HANDOFF_FILES.trlParquet}/${kind}.parquet`,
      out: HANDOFF_FILES.trlOut,
    });
    writeFileAtomic(join(tmp, HANDOFF_FILES.trlScript), script);
    writeFileAtomic(join(tmp, LLAMAFACTORY_FILES.train), llamaFactoryTrainYaml(plan, lf));
    writeFileAtomic(join(tmp, LLAMAFACTORY_FILES.merge), llamaFactoryMergeYaml(plan, lf));
    writeFileAtomic(join(tmp, HANDOFF_FILES.guide), trainGuide(options, kind, records));
  });
  const { servedName, commands, continueCommand } = commandsOf(plan, options.runCommand);
  return {
    exportDir: out,
    guide: join(out, HANDOFF_FILES.guide),
    objective: plan.objective,
    baseModel: plan.baseModel,
    records,
    commands,
    continueCommand,
    servedName,
    notMapped: planNotes(plan),
  };
}

/** TRAIN.md: what is here, the three steps, the mapping. */
function trainGuide(options: HandoffOptions, kind: "sft" | "preference", records: number): string {
  const { plan, source } = options;
  const { commands, continueCommand } = commandsOf(plan, options.runCommand);
  const what =
    plan.objective === "dpo"
      ? `DPO (beta ${plan.dpo?.beta}) on ${records} preference pair${records === 1 ? "" : "s"}`
      : `SFT on ${records} sample${records === 1 ? "" : "s"} (preference pairs give their chosen answers)`;
  const lora = plan.lora === null ? "every weight" : `LoRA r ${plan.lora.r}, alpha ${plan.lora.alpha}`;
  const template =
    plan.template === null
      ? `LLaMA-Factory needs the base model's chat template, which selfsynth could not tell from \`${plan.baseModel}\`: set \`template:\` in both YAML files (they say \`${TEMPLATE_PLACEHOLDER}\`), or \`trainElsewhere: { template: NAME }\` in the recipe before the run starts.`
      : `LLaMA-Factory's chat template: \`${plan.template}\`.`;
  return `${[
    `# Training stage ${plan.stage}'s model`,
    "",
    `Stage ${plan.stage} of run \`${source.run}\` made its data with the served model \`${source.servedModel}\``,
    `(${source.baseUrls.join(", ")}). A run holds no weights of a served model, so it stops here,`,
    "waiting: train the model from this folder on a machine with a GPU, serve the trained model, and",
    "continue the run with it. Copy this folder whole if the GPU is elsewhere: every path in it is",
    "relative to it.",
    "",
    `- base model: \`${plan.baseModel}\` (the recipe's or the stage's \`trainElsewhere.baseModel\`, else the served model's name; edit the configs if the weights live elsewhere)`,
    `- objective: ${what}, ${lora}`,
    "",
    "| path | what |",
    "|---|---|",
    `| \`${HANDOFF_FILES.trl}/${kind}.jsonl\`, \`${HANDOFF_FILES.trl}/images/\` | TRL's conversational format (${kind === "preference" ? "`prompt`, `chosen`, `rejected`, `images`" : "`messages`, `images`"}), image paths relative to \`${HANDOFF_FILES.trl}/\` |`,
    `| \`${HANDOFF_FILES.trlParquet}/${kind}.parquet\` | the same, images embedded (\`datasets.load_dataset("parquet", ...)\`) |`,
    `| \`${HANDOFF_FILES.llamaFactory}/\` | LLaMA-Factory's sharegpt \`${kind}.json\`, \`dataset_info.json\` (dataset \`selfsynth_${kind}\`), \`images/\` |`,
    `| \`${HANDOFF_FILES.trlScript}\` | TRL: ${plan.objective === "dpo" ? "DPOTrainer" : "SFTTrainer"} with the stage's settings, then the merged model in \`${HANDOFF_FILES.trlOut}/merged\` |`,
    `| \`${LLAMAFACTORY_FILES.train}\`, \`${LLAMAFACTORY_FILES.merge}\` | LLaMA-Factory: training, then the merge into \`out/llamafactory/merged\` |`,
    "",
    "## 1. Train (one of the two)",
    "",
    "TRL (the script reads the Parquet; written for TRL 0.20 or newer):",
    "",
    '    pip install "trl>=0.20" peft transformers datasets accelerate pillow',
    `    ${commands.trl}                    # -> ${HANDOFF_FILES.trlOut}/merged`,
    "",
    "LLaMA-Factory (run in this folder: its paths are relative to the working folder):",
    "",
    `    llamafactory-cli train ${LLAMAFACTORY_FILES.train}    # -> out/llamafactory/lora`,
    `    llamafactory-cli export ${LLAMAFACTORY_FILES.merge}   # -> out/llamafactory/merged`,
    "",
    template,
    "",
    "## 2. Serve the trained model",
    "",
    "Any OpenAI-compatible server that takes images (vLLM, SGLang, ...), e.g.:",
    "",
    `    ${commands.serve}`,
    "",
    "## 3. Continue the run",
    "",
    "From where the run was started, with the server's URL (and the name it serves the model as):",
    "",
    `    ${continueCommand}`,
    "",
    "The run checks the server (it answers, serves that name, takes images), records it as this",
    "stage's model, evaluates it as the stage's round and goes on to the next stages with it as their",
    "model. A later stage that trains stops again with its own `export/`.",
    "",
    "## What does not carry over exactly",
    "",
    ...planNotes(plan).map((n) => `- ${n}`),
    "",
    "Both configs write, as comments, the stage setting each option comes from. selfsynth does not",
    "run these trainers itself; the option names follow TRL's DPOConfig/SFTConfig, PEFT's LoraConfig",
    "and LLaMA-Factory's arguments.",
  ].join("\n")}\n`;
}
