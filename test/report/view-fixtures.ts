// A small stage data folder for the viewer's tests, written with the records' own writers
// (createDataset's image store, RecordWriter): `pairs.jsonl` with PAIRS preference pairs whose
// reasons, methods, sources and scores vary by index, then two malformed lines (not JSON; a
// pair without `chosen`) and one more good pair; `infused.jsonl` with SFT samples; `drops.jsonl`
// with reason-coded drops and one malformed line; symlinks that lead out of the folder (a file,
// a record file, a folder); and
// exports of the clean records in three formats beside it.
import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDataset, RecordWriter } from "../../src/data/dataset.js";
import { exportDataset } from "../../src/data/export/index.js";
import type { PreferenceRecord, SftRecord } from "../../src/data/records.js";
import { encodePng } from "../../src/images/codec.js";
import { solid, tempDir } from "../data/fixtures.js";

/** Good pairs before the malformed lines. */
export const PAIRS = 25;
/** Lines of pairs.jsonl: the pairs, the two malformed lines, one more pair. */
export const PAIR_LINES = PAIRS + 3;
export const NOT_JSON_LINE = PAIRS + 1;
export const BAD_RECORD_LINE = PAIRS + 2;
export const SFT_SAMPLES = 4;
export const DROP_REASONS = ["identical", "identical", "empty-answer", "image-decode"] as const;
/** The drops.jsonl line that is not a drop. */
export const BAD_DROP_LINE = DROP_REASONS.length + 1;

export const REASONS = ["rejected:corrupted:jitter", "rejected:corrupted:downscale", "rejected:hallucination-prompt:3"];

/** The pair of index i: reason REASONS[i % 3], method csr every fifth, score chosen = i / 10. */
export function pair(i: number, image: string): PreferenceRecord {
  return {
    kind: "preference",
    id: `pair-${i}`,
    images: [image],
    prompt: [{ role: "user", content: `<image>\nDescribe picture ${i}.` }],
    chosen: `chosen answer ${i}`,
    rejected: `rejected answer ${i}`,
    provenance: {
      method: i % 5 === 4 ? "csr" : "stic",
      stage: "stage1",
      model: "tiny",
      reasons: [REASONS[i % 3]],
      scores: { chosen: i / 10 },
      source: `pool-${String(i).padStart(4, "0")}`,
    },
  };
}

function sft(i: number, image: string): SftRecord {
  return {
    kind: "sft",
    id: `sft-${i}`,
    images: [image],
    messages: [
      { role: "user", content: `<image>\nQuestion ${i}?` },
      { role: "assistant", content: `Answer ${i}.` },
    ],
    provenance: { method: "stic", stage: "stage2", model: "tiny", reasons: ["description-infused"], source: `q-${i}` },
  };
}

export interface ViewFixture {
  /** The stage data folder. */
  data: string;
  /** Export folders of the clean records, by format. */
  exports: Record<"trl-jsonl" | "llava" | "llamafactory", string>;
  /** A folder outside `data` the symlinks point into, holding `secret.txt`. */
  outside: string;
  images: string[];
  pairs: PreferenceRecord[];
  samples: SftRecord[];
}

export async function viewFixture(): Promise<ViewFixture> {
  const base = tempDir("view");
  const data = join(base, "data");
  const store = createDataset(data);
  const colours: [number, number, number][] = [
    [220, 40, 40],
    [40, 180, 60],
    [40, 60, 220],
  ];
  const images: string[] = [];
  for (const rgb of colours) images.push(await store.put(await encodePng(solid(16, 16, rgb)), "image/png"));

  const pairs = Array.from({ length: PAIRS + 1 }, (_, i) => pair(i, images[i % images.length]));
  const samples = Array.from({ length: SFT_SAMPLES }, (_, i) => sft(i, images[i % images.length]));
  const pairWriter = RecordWriter.open(join(data, "pairs.jsonl"), "preference");
  pairWriter.append(pairs.slice(0, PAIRS));
  pairWriter.close();
  const sftWriter = RecordWriter.open(join(data, "infused.jsonl"), "sft");
  sftWriter.append(samples);
  sftWriter.close();

  // Exports of the clean records (export refuses a dataset with a bad line).
  const exports = {
    "trl-jsonl": join(base, "export-trl"),
    llava: join(base, "export-llava"),
    llamafactory: join(base, "export-llamafactory"),
  };
  for (const [format, out] of Object.entries(exports)) {
    exportDataset({ data, format: format as keyof typeof exports, out });
  }

  // What no writer would write: a line cut in the middle and a pair without `chosen`; then a good pair.
  const { chosen: _, ...noChosen } = pair(99, images[0]);
  appendFileSync(
    join(data, "pairs.jsonl"),
    `{"kind": "preference", "id": "cut\n${JSON.stringify(noChosen)}\n${JSON.stringify(pairs[PAIRS])}\n`,
  );
  writeFileSync(
    join(data, "drops.jsonl"),
    `${DROP_REASONS.map((reason, i) => JSON.stringify({ itemId: `pool-d${i}`, reason })).join("\n")}\n{"itemId": 3}\n`,
  );

  const outside = join(base, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.txt"), "not for the viewer\n");
  writeFileSync(join(outside, "records.jsonl"), `${JSON.stringify(pair(0, images[0]))}\n`);
  symlinkSync(join(outside, "secret.txt"), join(data, "secret-link.txt"));
  symlinkSync(join(outside, "records.jsonl"), join(data, "linked.jsonl"));
  symlinkSync(outside, join(data, "images", "outside-dir"));
  return { data, exports, outside, images, pairs, samples };
}
