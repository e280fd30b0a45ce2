// The hand-off of a served model's training stage (src/data/export/handoff.ts and its writers):
// the TRL script and the LLaMA-Factory YAML carry the stage's settings under the trainers' option
// names, read back by the readers those trainers use (PyYAML for LLaMA-Factory, Python's own parser
// for the script, when python3 is here; the `yaml` package in YAML 1.1 mode always), and every path
// in the export is relative to the export folder.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { writeHandoff } from "../../src/data/export/handoff.js";
import {
  LLAMAFACTORY_FILES,
  llamaFactoryMergeYaml,
  llamaFactoryTrainYaml,
} from "../../src/data/export/llamafactory-train.js";
import { guessLlamaFactoryTemplate, type TrainPlan, yamlFloat } from "../../src/data/export/train-plan.js";
import { trlTrainScript } from "../../src/data/export/trl-train.js";
import { cleanup, preferenceRecord, readJson, readJsonl, smallDataset, tempDir } from "./fixtures.js";

after(cleanup);

const python = spawnSync("python3", ["-c", "import yaml, ast"], { encoding: "utf8" }).status === 0;
/** Runs a Python program on stdin's text; its stdout parsed as JSON. */
function pythonJson(program: string, input: string): unknown {
  const r = spawnSync("python3", ["-c", program], { input, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A DPO plan with every setting away from its default, so that each mapping shows. */
function dpoPlan(extra: Partial<TrainPlan> = {}): TrainPlan {
  return {
    stage: "stic-stage1",
    objective: "dpo",
    baseModel: "llava-hf/llava-1.5-7b-hf",
    template: "llava",
    seed: 1234,
    dpo: { beta: 0.2, alpha: 1 / 1024, reference: "adapter-off", rejectedLogp: "response", dropout: false },
    lora: { r: 8, alpha: 24, dropout: 0.05, targetModules: ["q_proj", "v_proj"] },
    train: {
      lr: 5e-7,
      warmupSteps: 3,
      schedule: "cosine",
      minLrRatio: 0.1,
      epochs: 2,
      maxSteps: 40,
      batchSize: 4,
      gradAccumSteps: 2,
      maxGradNorm: 0.5,
      weightDecay: 0.01,
      betas: [0.9, 0.98],
      eps: 1e-6,
      logEvery: 5,
      saveEvery: 10,
    },
    ...extra,
  };
}

const lfPaths = {
  datasetDir: "llamafactory",
  dataset: "selfsynth_preference",
  output: "out/lora",
  merged: "out/merged",
};

test("yamlFloat writes floats YAML 1.1 reads as floats (a dot, a signed exponent)", () => {
  assert.equal(yamlFloat(1e-4), "0.0001");
  assert.equal(yamlFloat(5e-7), "5.0e-7");
  assert.equal(yamlFloat(2), "2.0");
  assert.equal(yamlFloat(0), "0.0");
  assert.equal(yamlFloat(1.5e21), "1.5e+21");
  assert.equal(yamlFloat(-3), "-3.0");
  if (python) {
    const read = pythonJson(
      "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))",
      ["0.0001", "5.0e-7", "2.0", "1.5e+21"].map((v, i) => `k${i}: ${v}`).join("\n"),
    );
    assert.deepEqual(read, { k0: 1e-4, k1: 5e-7, k2: 2, k3: 1.5e21 });
  }
});

test("the LLaMA-Factory template is guessed for known model names, else null", () => {
  assert.equal(guessLlamaFactoryTemplate("llava-hf/llava-1.5-7b-hf"), "llava");
  assert.equal(guessLlamaFactoryTemplate("Qwen/Qwen2.5-VL-7B-Instruct"), "qwen2_vl");
  assert.equal(guessLlamaFactoryTemplate("Qwen/Qwen2-VL-2B-Instruct"), "qwen2_vl");
  assert.equal(guessLlamaFactoryTemplate("meta-llama/Llama-3.2-11B-Vision-Instruct"), "mllama");
  assert.equal(guessLlamaFactoryTemplate("base"), null);
});

test("LLaMA-Factory's DPO config: the stage's settings under LLaMA-Factory's keys; STIC's alpha not mapped", () => {
  const text = llamaFactoryTrainYaml(dpoPlan(), lfPaths);
  const expected = {
    model_name_or_path: "llava-hf/llava-1.5-7b-hf",
    trust_remote_code: true,
    stage: "dpo",
    do_train: true,
    finetuning_type: "lora",
    lora_rank: 8,
    lora_alpha: 24,
    lora_dropout: 0.05,
    lora_target: "q_proj,v_proj",
    pref_beta: 0.2,
    pref_loss: "sigmoid",
    dataset: "selfsynth_preference",
    dataset_dir: "llamafactory",
    template: "llava",
    overwrite_cache: true,
    output_dir: "out/lora",
    logging_steps: 5,
    save_steps: 10,
    plot_loss: true,
    overwrite_output_dir: true,
    report_to: "none",
    per_device_train_batch_size: 4,
    gradient_accumulation_steps: 2,
    learning_rate: 5e-7,
    num_train_epochs: 2,
    max_steps: 40,
    lr_scheduler_type: "cosine_with_min_lr",
    lr_scheduler_kwargs: { min_lr_rate: 0.1 },
    warmup_steps: 3,
    max_grad_norm: 0.5,
    weight_decay: 0.01,
    adam_beta1: 0.9,
    adam_beta2: 0.98,
    adam_epsilon: 1e-6,
    seed: 1234,
    bf16: true,
  };
  assert.deepEqual(parseYaml(text, { version: "1.1" }), expected);
  // PyYAML (LLaMA-Factory's reader) gives the same values and types: floats stay floats.
  if (python)
    assert.deepEqual(
      pythonJson("import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))", text),
      expected,
    );
  assert.doesNotMatch(text, /^pref_ftx:/m, "STIC's alpha is no pref_ftx");
  assert.match(text, /# {3}- STIC's alpha \(0\.0009765625\) is not mapped/);
  assert.match(text, /learning_rate: 5\.0e-7 {2}# train\.lr/);
});

test("LLaMA-Factory's SFT config and merge config; an unknown template is a named placeholder", () => {
  const plan = dpoPlan({
    objective: "sft",
    dpo: null,
    template: null,
    lora: { r: 4, alpha: 6.5, dropout: 0, targetModules: ["q_proj"] },
    train: { ...dpoPlan().train, schedule: "constant", maxSteps: undefined },
  });
  const doc = parseYaml(llamaFactoryTrainYaml(plan, { ...lfPaths, dataset: "selfsynth_sft" }), { version: "1.1" });
  assert.equal(doc.stage, "sft");
  assert.equal(doc.dataset, "selfsynth_sft");
  assert.equal(doc.template, "SET_ME");
  assert.equal(doc.lr_scheduler_type, "constant_with_warmup");
  assert.equal(doc.lr_scheduler_kwargs, undefined);
  assert.equal(doc.max_steps, undefined);
  assert.equal(doc.pref_beta, undefined);
  assert.equal(doc.lora_alpha, undefined, "LLaMA-Factory's lora_alpha is an int: 6.5 is left out, with a comment");
  assert.equal(doc.lora_rank, 4);
  const merge = parseYaml(llamaFactoryMergeYaml(dpoPlan(), lfPaths), { version: "1.1" });
  assert.deepEqual(merge, {
    model_name_or_path: "llava-hf/llava-1.5-7b-hf",
    adapter_name_or_path: "out/lora",
    template: "llava",
    finetuning_type: "lora",
    trust_remote_code: true,
    export_dir: "out/merged",
    export_size: 5,
    export_device: "cpu",
    export_legacy_format: false,
  });
  const full = parseYaml(llamaFactoryTrainYaml(dpoPlan({ lora: null }), lfPaths), { version: "1.1" });
  assert.equal(full.finetuning_type, "full");
  assert.equal(full.lora_rank, undefined);
});

/** The keyword arguments of the first call to `name` in a Python file, as literals (None when not one). */
const KWARGS = `
import ast, json, sys
name = sys.argv[1]
tree = ast.parse(sys.stdin.read())
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name:
        out = {}
        for kw in node.keywords:
            try:
                out[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                out[kw.arg] = "<expr:" + ast.unparse(kw.value) + ">"
        print(json.dumps(out))
        break
`;
function pythonKwargs(script: string, call: string): Record<string, unknown> {
  const r = spawnSync("python3", ["-c", KWARGS, call], { input: script, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("TRL's DPO script: DPOConfig and LoraConfig carry the stage's settings; no rpo_alpha", () => {
  const script = trlTrainScript(dpoPlan(), { data: "trl-parquet/preference.parquet", out: "out/trl" });
  assert.match(script, /^from trl import DPOConfig, DPOTrainer$/m);
  assert.match(script, /^DATA = HERE \/ "trl-parquet" \/ "preference\.parquet"/m);
  assert.match(script, /^OUT = HERE \/ "out" \/ "trl"$/m);
  assert.match(script, /^BASE_MODEL = "llava-hf\/llava-1\.5-7b-hf"/m);
  assert.doesNotMatch(script, /rpo_alpha=/);
  assert.match(script, /# {3}- STIC's alpha \(0\.0009765625\) is not mapped/);
  if (!python) return;
  assert.deepEqual(pythonKwargs(script, "DPOConfig"), {
    output_dir: "<expr:str(OUT / 'checkpoints')>",
    beta: 0.2,
    disable_dropout: true,
    learning_rate: 5e-7,
    num_train_epochs: 2,
    max_steps: 40,
    per_device_train_batch_size: 4,
    gradient_accumulation_steps: 2,
    warmup_steps: 3,
    lr_scheduler_type: "cosine_with_min_lr",
    lr_scheduler_kwargs: { min_lr_rate: 0.1 },
    max_grad_norm: 0.5,
    weight_decay: 0.01,
    adam_beta1: 0.9,
    adam_beta2: 0.98,
    adam_epsilon: 1e-6,
    seed: 1234,
    logging_steps: 5,
    save_steps: 10,
    max_length: null,
    max_prompt_length: null,
    bf16: "<expr:bf16>",
    report_to: "none",
  });
  const lora = pythonKwargs(script, "LoraConfig");
  assert.deepEqual(lora, {
    r: 8,
    lora_alpha: 24,
    lora_dropout: 0.05,
    target_modules: "^(?!.*(?:vision|visual)).*\\.(?:q_proj|v_proj)$",
    task_type: "CAUSAL_LM",
  });
  // PEFT full-matches the pattern against module names: the decoder's, not the vision tower's.
  const matches = pythonJson(
    `import re, json, sys
p = sys.stdin.read()
names = ["model.language_model.layers.0.self_attn.q_proj", "language_model.model.layers.3.self_attn.v_proj",
         "model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj", "model.visual.blocks.0.attn.q_proj",
         "model.language_model.layers.0.self_attn.k_proj"]
print(json.dumps([bool(re.fullmatch(p, n)) for n in names]))`,
    lora.target_modules as string,
  );
  assert.deepEqual(matches, [true, true, false, false, false]);
});

test("lora.modulesToSave maps to PEFT's modules_to_save and LLaMA-Factory's additional_target", () => {
  const plan = dpoPlan({ lora: { ...(dpoPlan().lora as NonNullable<TrainPlan["lora"]>), modulesToSave: ["lm_head"] } });
  const doc = parseYaml(llamaFactoryTrainYaml(plan, lfPaths), { version: "1.1" }) as Record<string, unknown>;
  assert.equal(doc.additional_target, "lm_head");
  assert.equal(
    (parseYaml(llamaFactoryTrainYaml(dpoPlan(), lfPaths), { version: "1.1" }) as Record<string, unknown>)
      .additional_target,
    undefined,
  );
  if (!python) return;
  assert.deepEqual(
    pythonKwargs(trlTrainScript(plan, { data: "trl-parquet/preference.parquet", out: "out/trl" }), "LoraConfig")
      .modules_to_save,
    ["lm_head"],
  );
});

test("TRL's SFT script: SFTConfig without DPO's keys, SFT data, full fine-tuning without PEFT", () => {
  const plan = dpoPlan({ objective: "sft", dpo: null, lora: null, train: { ...dpoPlan().train, minLrRatio: 0 } });
  const script = trlTrainScript(plan, { data: "trl-parquet/sft.parquet", out: "out/trl" });
  assert.match(script, /^from trl import SFTConfig, SFTTrainer$/m);
  assert.doesNotMatch(script, /from peft|LoraConfig/);
  assert.match(script, /peft_config = None/);
  if (!python) return;
  const args = pythonKwargs(script, "SFTConfig");
  assert.equal(args.beta, undefined);
  assert.equal(args.max_prompt_length, undefined);
  assert.equal(args.lr_scheduler_type, "cosine");
  assert.equal(args.learning_rate, 5e-7);
});

/** A dataset folder whose `pairs.jsonl` holds two preference pairs (no SFT record). */
async function pairsDataset() {
  const { root, blue, red } = await smallDataset();
  const pairs = join(root, "pairs.jsonl");
  writeFileSync(
    pairs,
    [preferenceRecord("p1", blue), preferenceRecord("p2", red)].map((r) => `${JSON.stringify(r)}\n`).join(""),
  );
  return { root, pairs };
}

const handoffSource = { run: "runs/x", servedModel: "llava-hf/llava-1.5-7b-hf", baseUrls: ["http://gpu:8000/v1"] };

test("writeHandoff: TRL JSONL and Parquet, LLaMA-Factory data, both configs and TRAIN.md; paths relative to the export", async () => {
  const { pairs } = await pairsDataset();
  const out = join(tempDir("handoff"), "export");
  const result = writeHandoff({
    records: pairs,
    out,
    plan: dpoPlan(),
    source: handoffSource,
    runCommand: "selfsynth run recipes/x.yaml --out runs/x",
  });
  assert.equal(result.records, 2);
  assert.equal(result.objective, "dpo");
  assert.equal(result.guide, join(out, "TRAIN.md"));
  assert.equal(
    result.continueCommand,
    "selfsynth run recipes/x.yaml --out runs/x --continue-with http://HOST:8000/v1 --continue-model stic-stage1",
  );
  for (const f of ["TRAIN.md", "train_trl.py", LLAMAFACTORY_FILES.train, LLAMAFACTORY_FILES.merge])
    assert.ok(existsSync(join(out, f)), f);
  // TRL JSONL: conversational rows whose image paths resolve inside trl/.
  const rows = readJsonl(join(out, "trl", "preference.jsonl"));
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.deepEqual(Object.keys(row), ["prompt", "chosen", "rejected", "images"]);
    for (const image of row.images) assert.ok(existsSync(join(out, "trl", image)), image);
  }
  assert.ok(existsSync(join(out, "trl-parquet", "preference.parquet")));
  // The script reads the Parquet beside it.
  assert.match(
    readFileSync(join(out, "train_trl.py"), "utf8"),
    /^DATA = HERE \/ "trl-parquet" \/ "preference\.parquet"/m,
  );
  // LLaMA-Factory: run in the export folder, the YAML's dataset is an entry of dataset_dir's dataset_info.json.
  const yaml = parseYaml(readFileSync(join(out, LLAMAFACTORY_FILES.train), "utf8"), { version: "1.1" });
  const info = readJson(join(out, yaml.dataset_dir, "dataset_info.json"));
  const entry = info[yaml.dataset];
  assert.ok(entry, `dataset_info.json names ${yaml.dataset}`);
  assert.equal(entry.ranking, true);
  const samples = readJson(join(out, yaml.dataset_dir, entry.file_name));
  for (const image of samples[0].images) assert.ok(existsSync(join(out, yaml.dataset_dir, image)), image);
  const guide = readFileSync(join(out, "TRAIN.md"), "utf8");
  assert.match(guide, /DPO \(beta 0\.2\) on 2 preference pairs, LoRA r 8, alpha 24/);
  assert.ok(guide.includes(result.continueCommand));
  assert.ok(guide.includes("python train_trl.py"));
  assert.ok(guide.includes(`llamafactory-cli train ${LLAMAFACTORY_FILES.train}`));
  // Written again (a rerun of the step): replaced whole.
  writeHandoff({ records: pairs, out, plan: dpoPlan(), source: handoffSource, runCommand: "selfsynth run r" });
  assert.equal(readJsonl(join(out, "trl", "preference.jsonl")).length, 2);
});

test("writeHandoff: SFT on pairs exports the chosen answers as SFT samples; DPO refuses SFT records", async () => {
  const { pairs, root } = await pairsDataset();
  const out = join(tempDir("handoff-sft"), "export");
  const plan = dpoPlan({ objective: "sft", dpo: null });
  const result = writeHandoff({ records: pairs, out, plan, source: handoffSource, runCommand: "selfsynth run r" });
  assert.equal(result.records, 2);
  const rows = readJsonl(join(out, "trl", "sft.jsonl"));
  assert.deepEqual(rows[0].messages.at(-1), { role: "assistant", content: [{ type: "text", text: "Blue." }] });
  assert.ok(existsSync(join(out, "trl-parquet", "sft.parquet")));
  assert.ok(!existsSync(join(out, "trl", "preference.jsonl")));
  const yaml = parseYaml(readFileSync(join(out, LLAMAFACTORY_FILES.train), "utf8"), { version: "1.1" });
  assert.equal(yaml.stage, "sft");
  assert.ok(readJson(join(out, "llamafactory", "dataset_info.json"))[yaml.dataset]);
  // The fixture's records.jsonl mixes an SFT sample with a pair: no DPO on it, and nothing written.
  const bad = join(tempDir("handoff-bad"), "export");
  assert.throws(
    () =>
      writeHandoff({
        records: join(root, "records.jsonl"),
        out: bad,
        plan: dpoPlan(),
        source: handoffSource,
        runCommand: "r",
      }),
    /DPO needs preference records only \(1 SFT records among them\)/,
  );
  assert.ok(!existsSync(bad));
});
