// A Python script that trains a plan (train-plan.ts) with TRL: DPOTrainer (objective dpo) or
// SFTTrainer (sft) on the stage's Parquet export (images embedded, so no path resolution), LoRA
// through PEFT, then the adapters merged and saved with the processor: a folder vLLM can serve.
// Option names as in TRL's DPOConfig / SFTConfig (transformers' TrainingArguments underneath) and
// PEFT's LoraConfig. Every path is relative to the script's own folder (the export folder), so the
// folder can be copied to a GPU machine and the script run from anywhere.
import { decoderTargetsRegex, planNotes, type TrainPlan } from "./train-plan.js";

/** Where the script reads and writes, relative to its folder. */
export interface TrlScriptPaths {
  /** The Parquet dataset (`trl-parquet/preference.parquet` or `trl-parquet/sft.parquet`). */
  data: string;
  /** The output folder: `checkpoints/` and `merged/` go under it. */
  out: string;
}

/** A Python literal of a JSON-able value: numbers as JS prints them, True/False/None, strings quoted. */
function py(value: number | string | boolean | null): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError(`trl script: ${value} is not a finite number`);
    return String(value);
  }
  return JSON.stringify(value);
}

/** Path segments as `HERE / "a" / "b"`. */
const herePath = (path: string) => ["HERE", ...path.split("/").map((p) => JSON.stringify(p))].join(" / ");

/** The script's text. */
export function trlTrainScript(plan: TrainPlan, paths: TrlScriptPaths): string {
  const t = plan.train;
  const dpo = plan.objective === "dpo";
  if (dpo && plan.dpo === null) throw new Error(`trl script: stage ${plan.stage}: objective dpo without dpo settings`);
  const trainer = dpo ? "DPOTrainer" : "SFTTrainer";
  const config = dpo ? "DPOConfig" : "SFTConfig";
  const schedule =
    t.schedule === "constant" ? "constant_with_warmup" : t.minLrRatio > 0 ? "cosine_with_min_lr" : "cosine";
  const args: [string, string, string?][] = [["output_dir", 'str(OUT / "checkpoints")']];
  if (dpo && plan.dpo !== null) {
    args.push(["beta", py(plan.dpo.beta), "dpo.beta"]);
    args.push(["disable_dropout", py(!plan.dpo.dropout), "dpo.dropout"]);
  }
  args.push(["learning_rate", py(t.lr), "train.lr"], ["num_train_epochs", py(t.epochs), "train.epochs"]);
  if (t.maxSteps !== undefined) args.push(["max_steps", py(t.maxSteps), "train.maxSteps (overrides epochs)"]);
  args.push(
    ["per_device_train_batch_size", py(t.batchSize), "train.batchSize"],
    ["gradient_accumulation_steps", py(t.gradAccumSteps), "train.gradAccumSteps"],
    ["warmup_steps", py(t.warmupSteps), "train.warmupSteps"],
    ["lr_scheduler_type", py(schedule), "train.schedule"],
  );
  if (schedule === "cosine_with_min_lr")
    args.push(["lr_scheduler_kwargs", `{"min_lr_rate": ${py(t.minLrRatio)}}`, "train.minLrRatio"]);
  args.push(
    ["max_grad_norm", py(t.maxGradNorm), "train.maxGradNorm (0: no clipping, in both)"],
    ["weight_decay", py(t.weightDecay), "train.weightDecay"],
    ["adam_beta1", py(t.betas[0]), "train.betas[0]"],
    ["adam_beta2", py(t.betas[1]), "train.betas[1]"],
    ["adam_epsilon", py(t.eps), "train.eps"],
    ["seed", py(plan.seed), "the stage's seed"],
    ["logging_steps", py(t.logEvery), "train.logEvery"],
    ["save_steps", py(t.saveEvery), "train.saveEvery"],
    ["max_length", "None", "no truncation: the image's tokens count in the prompt"],
  );
  if (dpo) args.push(["max_prompt_length", "None"]);
  args.push(["bf16", "bf16"], ["report_to", '"none"']);
  const argLines = args.map(([k, v, from]) => `        ${k}=${v},${from === undefined ? "" : `  # ${from}`}`);

  const lora = plan.lora;
  const peft =
    lora === null
      ? ["    peft_config = None  # the stage trains every weight (lora: null)"]
      : [
          "    peft_config = LoraConfig(",
          `        r=${py(lora.r)},  # lora.r`,
          `        lora_alpha=${py(lora.alpha)},  # lora.alpha`,
          `        lora_dropout=${py(lora.dropout)},  # lora.dropout`,
          "        # lora.targetModules, on the language model's decoder only (no module under a vision tower)",
          `        target_modules=${py(decoderTargetsRegex(lora.targetModules))},`,
          ...((lora.modulesToSave ?? []).length > 0
            ? [`        modules_to_save=[${(lora.modulesToSave ?? []).map(py).join(", ")}],  # lora.modulesToSave`]
            : []),
          '        task_type="CAUSAL_LM",',
          "    )",
        ];
  const save =
    lora === null
      ? ['    trainer.save_model(str(OUT / "merged"))', '    processor.save_pretrained(str(OUT / "merged"))']
      : [
          "    merged = trainer.model.merge_and_unload()  # the adapters merged into the base weights",
          '    merged.save_pretrained(str(OUT / "merged"))',
          '    processor.save_pretrained(str(OUT / "merged"))',
        ];
  const notes = planNotes(plan).map((n) => `#   - ${n}`);
  return `${[
    "#!/usr/bin/env python3",
    `# Trains stage ${plan.stage}'s model with TRL's ${trainer}${lora === null ? "" : " and LoRA (PEFT)"} on the data beside this`,
    "# file, then saves the merged model with its processor: a folder vLLM or `selfsynth serve`-like servers load.",
    "# Written by `selfsynth run` (src/data/export/trl-train.ts); TRAIN.md beside it explains the steps.",
    "#",
    '# Needs a GPU and: pip install "trl>=0.20" peft transformers datasets accelerate pillow',
    "# Run:  python train_trl.py              (one GPU; any working folder: paths are relative to this file)",
    "#       accelerate launch train_trl.py   (several GPUs)",
    `# Out:  ${paths.out}/merged (serve it), checkpoints in ${paths.out}/checkpoints`,
    "#",
    "# Each option names the stage's setting it comes from. What does not carry over exactly:",
    ...notes,
    "from pathlib import Path",
    "",
    "import torch",
    "from datasets import load_dataset",
    ...(lora === null ? [] : ["from peft import LoraConfig"]),
    "from transformers import AutoProcessor",
    `from trl import ${config}, ${trainer}`,
    "",
    "try:  # the image-text-to-text auto class (transformers >= 4.46); its older name otherwise",
    "    from transformers import AutoModelForImageTextToText as AutoVLM",
    "except ImportError:",
    "    from transformers import AutoModelForVision2Seq as AutoVLM",
    "",
    "HERE = Path(__file__).resolve().parent",
    `BASE_MODEL = ${py(plan.baseModel)}  # trainElsewhere.baseModel, or the served model's name`,
    `DATA = ${herePath(paths.data)}  # ${dpo ? "prompt, chosen, rejected" : "messages"}, images (embedded)`,
    `OUT = ${herePath(paths.out)}`,
    "",
    "",
    "def main():",
    '    dataset = load_dataset("parquet", data_files=str(DATA), split="train")',
    "    processor = AutoProcessor.from_pretrained(BASE_MODEL)",
    "    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()",
    "    model = AutoVLM.from_pretrained(BASE_MODEL, torch_dtype=torch.bfloat16 if bf16 else torch.float32)",
    `    args = ${config}(`,
    ...argLines,
    "    )",
    ...peft,
    `    trainer = ${trainer}(`,
    "        model=model,",
    "        args=args,",
    "        train_dataset=dataset,",
    "        processing_class=processor,",
    "        peft_config=peft_config,",
    "    )",
    "    trainer.train()",
    ...save,
    "",
    "",
    'if __name__ == "__main__":',
    "    main()",
  ].join("\n")}\n`;
}
