// `exportDataset`: a dataset (a root folder, or one JSONL file of it) written out in the format an
// existing trainer reads: TRL (JSONL or Parquet), LLaVA, LLaMA-Factory. See the per-format modules
// for the shapes.
//
// Images are copied, not referenced: the export folder holds `images/<sha256>.<ext>` next to the
// data files and every image path in them is relative to the export folder (the same
// content-addressed name as in the dataset). The folder is then self-contained (it can be moved,
// uploaded or mounted into a trainer's container) and no written path points outside it.
// TRL Parquet embeds the image bytes instead and has no `images/` folder.
//
// The export is built in a temporary sibling folder and swapped into place (writeDirAtomicSync,
// src/util/atomic-dir.ts), so `out` is either the previous content or the complete export,
// never half of one.

import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { writeDirAtomicSync } from "../../util/atomic-dir.js";
import { listRecordFiles, readRecords } from "../dataset.js";
import { ImageStore, resolveInside, writeFileAtomic } from "../image-store.js";
import { type PreferenceRecord, RecordError, type SftRecord, type TrainingRecord } from "../records.js";
import { llamaFactoryDatasetInfo, llamaFactoryPreferenceSample, llamaFactorySftSample } from "./llamafactory.js";
import { llavaPreferenceSample, llavaSftSample } from "./llava.js";
import { toJsonl, trlPreferenceParquet, trlPreferenceRow, trlSftParquet, trlSftRow } from "./trl.js";

export const EXPORT_FORMATS = ["trl-jsonl", "trl-parquet", "llava", "llamafactory"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** A dataset root (every `*.jsonl` directly inside it) or one JSONL file (its folder is the root). */
  data: string;
  format: ExportFormat;
  /** The folder to write; it must not exist, be empty, or `overwrite` must be set. */
  out: string;
  /** Replace an existing, non-empty `out`. */
  overwrite?: boolean;
  /** The dataset name in LLaMA-Factory's dataset_info.json (`<name>_sft`, `<name>_preference`); default "selfsynth". */
  name?: string;
  /**
   * Export preference pairs as SFT samples on their chosen answers (the prompt, then the chosen
   * answer as the assistant's turn): the data of an SFT objective trained on pairs (STIC's
   * `sft-chosen`). SFT records pass unchanged.
   */
  asSft?: boolean;
}

export interface ExportResult {
  out: string;
  format: ExportFormat;
  /** The files written, relative to `out` (image files not listed). */
  files: string[];
  sft: number;
  preference: number;
  /** Image files copied into `out/images` (0 for trl-parquet, which embeds them). */
  images: number;
}

/** The records of `data` (a root or a JSONL file), validated, with their root. */
export function loadDataset(data: string): { root: string; records: TrainingRecord[] } {
  if (!existsSync(data)) throw new RecordError(`${data}: no such dataset folder or JSONL file`);
  const isDir = statSync(data).isDirectory();
  const root = resolve(isDir ? data : dirname(data));
  const files = isDir ? listRecordFiles(root) : [resolve(data)];
  if (files.length === 0) throw new RecordError(`${data}: no *.jsonl record files in the dataset folder`);
  const records: TrainingRecord[] = [];
  const origin = new Map<string, string>();
  for (const file of files) {
    for (const record of readRecords(file, "any", { root })) {
      const first = origin.get(record.id);
      if (first !== undefined) {
        throw new RecordError(`${file}: id: duplicate id ${JSON.stringify(record.id)} (also in ${first})`);
      }
      origin.set(record.id, file);
      records.push(record);
    }
  }
  return { root, records };
}

const within = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

/** A pair as the SFT sample an SFT objective trains on: the prompt, then the chosen answer. */
export function chosenAsSft(record: PreferenceRecord): SftRecord {
  return {
    kind: "sft",
    id: record.id,
    images: [...record.images],
    messages: [...record.prompt, { role: "assistant", content: record.chosen }],
    provenance: record.provenance,
  };
}

export function exportDataset(options: ExportOptions): ExportResult {
  const loaded = loadDataset(options.data);
  const root = loaded.root;
  const records =
    options.asSft === true ? loaded.records.map((r) => (r.kind === "preference" ? chosenAsSft(r) : r)) : loaded.records;
  const out = resolve(options.out);
  // Replacing `out` must never remove the dataset being exported.
  if (within(out, root)) throw new Error(`export: --out ${options.out} contains the dataset root ${root}`);
  const nonEmpty = existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0);
  if (nonEmpty && options.overwrite !== true) {
    throw new Error(`export: ${options.out} exists and is not empty (pass --force to replace it)`);
  }

  const sft = records.filter((r): r is SftRecord => r.kind === "sft");
  const preference = records.filter((r): r is PreferenceRecord => r.kind === "preference");
  const store = new ImageStore(root);

  const files: string[] = [];
  let copied = 0;
  writeDirAtomicSync(out, (tmp) => {
    const write = (name: string, content: string | Uint8Array) => {
      writeFileAtomic(resolveInside(tmp, name, `export ${name}`), content);
      files.push(name);
    };
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    const copyImages = () => {
      const paths = new Set(records.flatMap((r) => r.images));
      if (paths.size === 0) return;
      mkdirSync(join(tmp, "images"));
      for (const path of paths) {
        writeFileAtomic(resolveInside(tmp, path, `export image ${path}`), store.read(path, `${root}: ${path}`));
        copied++;
      }
    };

    switch (options.format) {
      case "trl-jsonl":
        if (sft.length > 0) write("sft.jsonl", toJsonl(sft.map(trlSftRow)));
        if (preference.length > 0) write("preference.jsonl", toJsonl(preference.map(trlPreferenceRow)));
        copyImages();
        break;
      case "trl-parquet": {
        const read = (path: string, where: string) => store.read(path, where);
        if (sft.length > 0) write("sft.parquet", trlSftParquet(sft, read));
        if (preference.length > 0) write("preference.parquet", trlPreferenceParquet(preference, read));
        break;
      }
      case "llava":
        if (sft.length > 0) write("sft.json", json(sft.map(llavaSftSample)));
        if (preference.length > 0) write("preference.json", json(preference.map(llavaPreferenceSample)));
        copyImages();
        break;
      case "llamafactory": {
        const name = options.name ?? "selfsynth";
        const info: Record<string, unknown> = {};
        if (sft.length > 0) {
          write("sft.json", json(sft.map(llamaFactorySftSample)));
          info[`${name}_sft`] = llamaFactoryDatasetInfo("sft.json", "sft");
        }
        if (preference.length > 0) {
          write("preference.json", json(preference.map(llamaFactoryPreferenceSample)));
          info[`${name}_preference`] = llamaFactoryDatasetInfo("preference.json", "preference");
        }
        write("dataset_info.json", json(info));
        copyImages();
        break;
      }
      default:
        throw new Error(`export: unknown format ${JSON.stringify(options.format)} (${EXPORT_FORMATS.join(", ")})`);
    }
  });
  return { out, format: options.format, files, sft: sft.length, preference: preference.length, images: copied };
}
