// Writes a split to disk: `<out>/images/<id>.png` plus `<out>/<split>.jsonl`. The unlabeled pool
// gets `pool.jsonl` with only id and image, and its truth (graph and texts) in `pool-truth.jsonl`
// for evaluation only. Every file is written whole (writeFileAtomic: a temporary name, fsync,
// rename), so a killed build never leaves a half-written file; a rerun overwrites with identical
// bytes.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { writeFileAtomic } from "../util/atomic-file.js";
import type { Image } from "./canvas.js";
import { configHash, type SplitName, type WorldConfig } from "./config.js";
import { renderCreature } from "./creatures.js";
import { renderScene } from "./render.js";
import { splitRecords, splitSize, type WorldRecord } from "./splits.js";

export interface BuildOptions {
  split: SplitName;
  outDir: string;
  /** PNG encodes in flight (sharp runs them on libuv's pool). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BuildResult {
  split: SplitName;
  records: number;
  files: string[];
  seconds: number;
}

/** PNG bytes through sharp; fixed settings, so equal pixels give equal bytes. */
export async function encodePng(image: Image): Promise<Buffer> {
  return sharp(Buffer.from(image.rgb.buffer, image.rgb.byteOffset, image.rgb.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

export function renderRecord(record: WorldRecord, config: WorldConfig): Image {
  return record.kind === "scene" ? renderScene(record.scene, config) : renderCreature(record.creature, config);
}

/** Builds one split; resolves when every file is in place. */
export async function buildSplit(config: WorldConfig, options: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  const { split, outDir } = options;
  const concurrency = options.concurrency ?? 8;
  mkdirSync(join(outDir, "images"), { recursive: true });
  const total = splitSize(config, split);
  const records: WorldRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let done = 0;
  for (const record of splitRecords(config, split)) {
    const image = renderRecord(record, config);
    const job = encodePng(image).then((png) => {
      record.sha256 = createHash("sha256").update(png).digest("hex");
      writeFileAtomic(join(outDir, record.image), png);
      done++;
      options.onProgress?.(done, total);
    });
    const tracked: Promise<void> = job.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    records.push(record);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const files: string[] = [];
  const write = (name: string, rows: unknown[]) => {
    writeFileAtomic(join(outDir, name), rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    files.push(name);
  };
  if (split === "pool") {
    write(
      "pool.jsonl",
      records.map((r) => ({ id: r.id, split: r.split, kind: r.kind, image: r.image, sha256: r.sha256 })),
    );
    write("pool-truth.jsonl", records);
  } else {
    write(`${split}.jsonl`, records);
  }
  const meta = {
    split,
    seed: config.seed,
    configHash: configHash(config),
    scenes: config.splits[split].scenes,
    creatures: config.splits[split].creatures,
    files,
  };
  writeFileAtomic(join(outDir, `${split}.meta.json`), `${JSON.stringify(meta, null, 2)}\n`);
  writeFileAtomic(join(outDir, "world-config.json"), `${JSON.stringify(config, null, 2)}\n`);
  return { split, records: total, files, seconds: (performance.now() - t0) / 1000 };
}
