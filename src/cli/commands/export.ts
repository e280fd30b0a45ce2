// `selfsynth export --data <dir|jsonl> --format trl-jsonl|trl-parquet|llava|llamafactory --out <dir>
// [--force] [--name N] [--json]`: writes a dataset in the format an existing trainer reads
// (src/data/export). The output folder is self-contained: data files plus `images/` (TRL Parquet
// embeds the images instead), every path relative to it.
import { type Command, Option } from "commander";
import { EXPORT_FORMATS, type ExportFormat, type ExportResult, exportDataset } from "../../data/export/index.js";

interface ExportCliOptions {
  data: string;
  format: ExportFormat;
  out: string;
  force?: boolean;
  name?: string;
  json?: boolean;
}

export function registerExport(program: Command, log: (line: string) => void = console.log): Command {
  return program
    .command("export")
    .description("write a dataset (records plus images) as TRL JSONL or Parquet, LLaVA JSON or LLaMA-Factory sharegpt")
    .requiredOption("--data <path>", "a dataset folder (its *.jsonl record files) or one JSONL file of it")
    .addOption(new Option("--format <format>", "output format").choices(EXPORT_FORMATS).makeOptionMandatory())
    .requiredOption("--out <dir>", "the folder to write (must be new or empty unless --force)")
    .option("--force", "replace --out if it exists")
    .option("--name <name>", "dataset name in LLaMA-Factory's dataset_info.json", "selfsynth")
    .option("--json", "print the result as JSON on the last line")
    .action((options: ExportCliOptions) => {
      const result = exportDataset({
        data: options.data,
        format: options.format,
        out: options.out,
        overwrite: options.force === true,
        name: options.name,
      });
      printResult(result, options.json === true, log);
    });
}

function printResult(result: ExportResult, json: boolean, log: (line: string) => void): void {
  if (json) {
    log(JSON.stringify(result));
    return;
  }
  log(
    `${result.format}: ${result.sft} SFT records, ${result.preference} preference pairs, ` +
      `${result.images} images -> ${result.out}`,
  );
  for (const file of result.files) log(`  ${file}`);
}
