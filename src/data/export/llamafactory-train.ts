// LLaMA-Factory YAML files for a plan (train-plan.ts): the training config (`llamafactory-cli train
// FILE`: stage dpo or sft, LoRA, the dataset the export's dataset_info.json names) and the merge
// config (`llamafactory-cli export FILE`: the adapters merged into the base, a servable folder).
// Option names as in LLaMA-Factory's argument classes (FinetuningArguments, DataArguments) and
// transformers' TrainingArguments. Its paths (dataset_dir, output_dir) are relative to the working
// folder llamafactory-cli runs in: the export folder (TRAIN.md says `cd` there first). Floats are
// written as YAML 1.1 reads them (yamlFloat), since LLaMA-Factory parses YAML with PyYAML.
import { planNotes, type TrainPlan, yamlFloat } from "./train-plan.js";

export interface LlamaFactoryPaths {
  /** The folder holding dataset_info.json and the data (relative to the working folder). */
  datasetDir: string;
  /** The dataset's name in dataset_info.json. */
  dataset: string;
  /** Where the adapters (or the full model) go. */
  output: string;
  /** Where the merge writes the servable model. */
  merged: string;
}

/** The two files' names in the export folder. */
export const LLAMAFACTORY_FILES = { train: "llamafactory-train.yaml", merge: "llamafactory-merge.yaml" } as const;

/** What the YAML says when the template is unknown: LLaMA-Factory refuses it, naming it. */
export const TEMPLATE_PLACEHOLDER = "SET_ME";

const str = (s: string) => JSON.stringify(s);

/** `lines` of `key: value  # comment`; a null value leaves the key out. */
type Entry = [key: string, value: string, comment?: string] | string;

function render(entries: Entry[]): string {
  return `${entries
    .map((e) => (typeof e === "string" ? e : `${e[0]}: ${e[1]}${e[2] === undefined ? "" : `  # ${e[2]}`}`))
    .join("\n")}\n`;
}

function templateEntry(plan: TrainPlan): Entry {
  return plan.template === null
    ? [
        "template",
        TEMPLATE_PLACEHOLDER,
        "set LLaMA-Factory's chat template of the base model (e.g. llava, qwen2_vl): trainElsewhere.template",
      ]
    : ["template", str(plan.template), "trainElsewhere.template, or guessed from the model's name"];
}

/** The training config. */
export function llamaFactoryTrainYaml(plan: TrainPlan, paths: LlamaFactoryPaths): string {
  const t = plan.train;
  const lora = plan.lora;
  const schedule =
    t.schedule === "constant" ? "constant_with_warmup" : t.minLrRatio > 0 ? "cosine_with_min_lr" : "cosine";
  const entries: Entry[] = [
    `# Trains stage ${plan.stage}'s model with LLaMA-Factory: cd into this folder, then`,
    `#   llamafactory-cli train ${LLAMAFACTORY_FILES.train}`,
    `#   llamafactory-cli export ${LLAMAFACTORY_FILES.merge}   (the adapters merged: a servable folder)`,
    "# Written by `selfsynth run` (src/data/export/llamafactory-train.ts). Each option names the",
    "# stage's setting it comes from. What does not carry over exactly:",
    ...planNotes(plan).map((n) => `#   - ${n}`),
    "",
    "### model",
    ["model_name_or_path", str(plan.baseModel), "trainElsewhere.baseModel, or the served model's name"],
    ["trust_remote_code", "true"],
    "",
    "### method",
    ["stage", plan.objective, "the stage's objective"],
    ["do_train", "true"],
    ["finetuning_type", lora === null ? "full" : "lora"],
  ];
  if (lora !== null) {
    entries.push(
      ["lora_rank", String(lora.r), "lora.r"],
      // LLaMA-Factory types lora_alpha as an int.
      Number.isInteger(lora.alpha)
        ? ["lora_alpha", String(lora.alpha), "lora.alpha"]
        : `# lora_alpha: not set: lora.alpha ${lora.alpha} is not an integer, which LLaMA-Factory requires`,
      ["lora_dropout", yamlFloat(lora.dropout), "lora.dropout"],
      ["lora_target", lora.targetModules.join(","), "lora.targetModules (the vision tower stays frozen)"],
    );
    if ((lora.modulesToSave ?? []).length > 0)
      entries.push(["additional_target", (lora.modulesToSave ?? []).join(","), "lora.modulesToSave"]);
  }
  if (plan.objective === "dpo" && plan.dpo !== null) {
    entries.push(
      ["pref_beta", yamlFloat(plan.dpo.beta), "dpo.beta"],
      ["pref_loss", "sigmoid", "DPO's loss"],
      "# pref_ftx: not set (see above: STIC's alpha is not the same term)",
    );
  }
  entries.push(
    "",
    "### dataset",
    ["dataset", str(paths.dataset), `the entry of ${paths.datasetDir}/dataset_info.json`],
    ["dataset_dir", str(paths.datasetDir), "images are read from here too (media_dir defaults to it)"],
    templateEntry(plan),
    ["overwrite_cache", "true"],
    "",
    "### output",
    ["output_dir", str(paths.output)],
    ["logging_steps", String(t.logEvery), "train.logEvery"],
    ["save_steps", String(t.saveEvery), "train.saveEvery"],
    ["plot_loss", "true"],
    ["overwrite_output_dir", "true"],
    ["report_to", "none"],
    "",
    "### train",
    ["per_device_train_batch_size", String(t.batchSize), "train.batchSize"],
    ["gradient_accumulation_steps", String(t.gradAccumSteps), "train.gradAccumSteps"],
    ["learning_rate", yamlFloat(t.lr), "train.lr"],
    ["num_train_epochs", yamlFloat(t.epochs), "train.epochs"],
  );
  if (t.maxSteps !== undefined) entries.push(["max_steps", String(t.maxSteps), "train.maxSteps (overrides epochs)"]);
  entries.push(["lr_scheduler_type", schedule, "train.schedule"]);
  if (schedule === "cosine_with_min_lr")
    entries.push(["lr_scheduler_kwargs", `{min_lr_rate: ${yamlFloat(t.minLrRatio)}}`, "train.minLrRatio"]);
  entries.push(
    ["warmup_steps", String(t.warmupSteps), "train.warmupSteps"],
    ["max_grad_norm", yamlFloat(t.maxGradNorm), "train.maxGradNorm (0: no clipping)"],
    ["weight_decay", yamlFloat(t.weightDecay), "train.weightDecay"],
    ["adam_beta1", yamlFloat(t.betas[0]), "train.betas[0]"],
    ["adam_beta2", yamlFloat(t.betas[1]), "train.betas[1]"],
    ["adam_epsilon", yamlFloat(t.eps), "train.eps"],
    ["seed", String(plan.seed), "the stage's seed"],
    ["bf16", "true", "false on GPUs without bfloat16"],
  );
  return render(entries);
}

/** The merge config: the trained adapters into the base model, saved where a server can load it. */
export function llamaFactoryMergeYaml(plan: TrainPlan, paths: LlamaFactoryPaths): string {
  if (plan.lora === null)
    return render([
      `# Stage ${plan.stage} trains every weight (lora: null): ${paths.output} is the model already; nothing to merge.`,
    ]);
  return render([
    `# Merges the LoRA adapters of stage ${plan.stage} into the base model: llamafactory-cli export ${LLAMAFACTORY_FILES.merge}`,
    `# (run in this folder, after ${LLAMAFACTORY_FILES.train}). Written by \`selfsynth run\`.`,
    "",
    "### model",
    ["model_name_or_path", str(plan.baseModel)],
    ["adapter_name_or_path", str(paths.output)],
    templateEntry(plan),
    ["finetuning_type", "lora"],
    ["trust_remote_code", "true"],
    "",
    "### export",
    ["export_dir", str(paths.merged), "serve this folder"],
    ["export_size", "5"],
    ["export_device", "cpu"],
    ["export_legacy_format", "false"],
  ]);
}
