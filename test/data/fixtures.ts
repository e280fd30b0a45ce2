// Small images and a hand-written two-record dataset (one SFT sample with one image, one
// preference pair) shared by the data tests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDataset } from "../../src/data/dataset.js";
import type { PreferenceRecord, SftRecord } from "../../src/data/records.js";
import { encodeJpeg, encodePng, type RgbImage } from "../../src/images/codec.js";

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `selfsynth-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made (register with `after(cleanup)`). */
export function cleanup(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
/** The JSON value of each non-empty line. */
export const readJsonl = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));

/** A writer of numbered text files (data-0.json, data-1.jsonl, ...) in a fresh tempDir; returns each path. */
export function textFiles(prefix: string): (text: string, ext?: string) => string {
  const dir = tempDir(prefix);
  let n = 0;
  return (text, ext = "json") => {
    const path = join(dir, `data-${n++}.${ext}`);
    writeFileSync(path, text);
    return path;
  };
}

/** A w x h image filled with one colour. */
export function solid(w: number, h: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { width: w, height: h, data };
}

export const png = (rgb: [number, number, number] = [200, 30, 30]) => encodePng(solid(4, 3, rgb));
export const jpeg = (rgb: [number, number, number] = [30, 30, 200]) => encodeJpeg(solid(8, 8, rgb));

export const provenance = { method: "stic", stage: "test", model: "tiny" };

export function sftRecord(id: string, image: string): SftRecord {
  return {
    kind: "sft",
    id,
    images: [image],
    messages: [
      { role: "user", content: "<image>\nDescribe the image." },
      { role: "assistant", content: "A red square." },
    ],
    provenance,
  };
}

export function preferenceRecord(id: string, image: string): PreferenceRecord {
  return {
    kind: "preference",
    id,
    images: [image],
    prompt: [{ role: "user", content: "What colour is <image> this?" }],
    chosen: "Blue.",
    rejected: "Green.",
    provenance: { ...provenance, method: "csr", scores: { chosen: 0.9, rejected: 0.2 } },
  };
}

/** A dataset root with two images and `records.jsonl` holding one SFT and one preference record. */
export async function smallDataset(): Promise<{
  root: string;
  red: string;
  blue: string;
  redBytes: Uint8Array;
  blueBytes: Uint8Array;
  sft: SftRecord;
  pref: PreferenceRecord;
}> {
  const root = tempDir("ds");
  const store = createDataset(root);
  const redBytes = await png();
  const blueBytes = await jpeg();
  const red = await store.put(redBytes, "image/png");
  const blue = await store.put(blueBytes, "image/jpeg");
  const sft = sftRecord("s1", red);
  const pref = preferenceRecord("p1", blue);
  writeFileSync(join(root, "records.jsonl"), `${JSON.stringify(sft)}\n${JSON.stringify(pref)}\n`);
  return { root, red, blue, redBytes, blueBytes, sft, pref };
}

/** One ShareGPT JSONL line: a one-turn question about `image` with a short answer. */
export const shareGptLine = (id: string, image: string) =>
  JSON.stringify({
    id,
    conversations: [
      { from: "human", value: "<image>Q?" },
      { from: "gpt", value: "A." },
    ],
    images: [image],
  });
