// What a stage would have trained, as a plan for a trainer elsewhere (TRL, LLaMA-Factory): the
// objective, the base model's name, LoRA and the optimizer settings, in selfsynth's own terms. The
// writers (trl-train.ts, llamafactory-train.ts) map it to each trainer's option names; what has
// no exact counterpart there is listed by planNotes, and written as comments, never guessed.
//
// The types here are plain data (no import from src/train): the method layer fills them from a
// stage's `dpo`, `lora` and `train` blocks (src/methods/common/fine-tune.ts).

export interface TrainPlan {
  /** The stage that made the data: names the datasets and the suggested served name. */
  stage: string;
  objective: "dpo" | "sft";
  /** The weights to start from: a Hugging Face id or a folder on the training machine. */
  baseModel: string;
  /** LLaMA-Factory's chat template (`template:`), or null when it is not known (the YAML then says SET_ME). */
  template: string | null;
  /** The stage's seed: the trainers' shuffling seed. */
  seed: number;
  /** DPO's settings (objective dpo only). */
  dpo: {
    beta: number;
    /** STIC's weight of -log π(chosen), summed over the answer's tokens, per pair; 0 = plain DPO. */
    alpha: number;
    reference: "adapter-off" | "precomputed";
    rejectedLogp: "response" | "stic-code";
    /** LoRA dropout kept in the policy's forward. */
    dropout: boolean;
  } | null;
  /** LoRA adapters on the decoder's linears, or null: every weight trains. */
  lora: {
    r: number;
    alpha: number;
    dropout: number;
    targetModules: readonly string[];
    /** PEFT's modules_to_save (whole modules trained beside the adapters). */
    modulesToSave?: readonly string[];
  } | null;
  train: {
    lr: number;
    warmupSteps: number;
    schedule: "cosine" | "constant";
    minLrRatio: number;
    epochs: number;
    maxSteps?: number;
    /** Examples per micro-batch (per device elsewhere). */
    batchSize: number;
    gradAccumSteps: number;
    maxGradNorm: number;
    weightDecay: number;
    betas: readonly [number, number];
    eps: number;
    logEvery: number;
    saveEvery: number;
  };
}

/**
 * What of the plan no trainer option carries exactly, in words for the configs' comments and
 * TRAIN.md. (Checked against TRL's DPOTrainer, which adds `rpo_alpha` times the chosen answer's
 * cross-entropy averaged over its tokens, and LLaMA-Factory's, which adds `pref_ftx` times the
 * chosen answer's mean token NLL: both per token, where STIC's alpha weighs the summed log-prob.)
 */
export function planNotes(plan: TrainPlan): string[] {
  const notes: string[] = [];
  const dpo = plan.dpo;
  if (dpo !== null && dpo.alpha !== 0)
    notes.push(
      `STIC's alpha (${dpo.alpha}) is not mapped: it weighs -log π(chosen) summed over the answer's tokens, while TRL's rpo_alpha and LLaMA-Factory's pref_ftx weigh the chosen answer's NLL averaged over its tokens; the configs train plain DPO (set rpo_alpha / pref_ftx yourself for an approximation)`,
    );
  if (dpo !== null && dpo.reference === "precomputed")
    notes.push(
      "the records' precomputed reference log-probs (dpo.reference: precomputed) are not used: both trainers compute the reference with the LoRA adapters off, as dpo.reference: adapter-off does",
    );
  if (dpo !== null && dpo.rejectedLogp === "stic-code")
    notes.push(
      "dpo.rejectedLogp: stic-code (the released STIC code's rejected log-prob) has no counterpart: both trainers score the rejected answer's own tokens (rejectedLogp: response)",
    );
  if (dpo?.dropout)
    notes.push(
      "dpo.dropout: true keeps LoRA dropout in the policy (TRL: disable_dropout=False); LLaMA-Factory does not say",
    );
  notes.push(
    "train.batchSize is per device: on N GPUs the effective batch is N x batch x gradient accumulation; divide gradient_accumulation_steps by N to keep the stage's",
  );
  notes.push(
    "no truncation is set in TRL (max_length=None); LLaMA-Factory cuts at its cutoff_len (default 2048 tokens, image tokens included)",
  );
  return notes;
}

/**
 * LLaMA-Factory's template for well-known model names (its templates `llava`, `qwen2_vl`,
 * `mllama`), or null: the user names it (`trainElsewhere.template`).
 */
export function guessLlamaFactoryTemplate(model: string): string | null {
  const name = model.toLowerCase();
  if (/llava[-_]?v?1[._]5/.test(name)) return "llava";
  if (/qwen2(\.5)?[-_]?vl/.test(name)) return "qwen2_vl";
  if (/llama[-_]?3\.2.*vision/.test(name)) return "mllama";
  return null;
}

/**
 * A number as a YAML 1.1 float (PyYAML, which LLaMA-Factory reads its YAML with, takes `1e-4` for
 * a string: a float needs a dot, and an exponent needs its sign): `1.0e-4`, `0.0001`, `2.0`.
 */
export function yamlFloat(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`yamlFloat: ${x} is not a finite number`);
  const [mantissa, exponent] = String(x).split("e");
  const m = mantissa.includes(".") ? mantissa : `${mantissa}.0`;
  if (exponent === undefined) return m;
  return `${m}e${/^[+-]/.test(exponent) ? exponent : `+${exponent}`}`;
}

/** The LoRA targets as a regex that PEFT full-matches: the decoder's linears, none in a vision tower. */
export function decoderTargetsRegex(targets: readonly string[]): string {
  return `^(?!.*(?:vision|visual)).*\\.(?:${targets.join("|")})$`;
}
