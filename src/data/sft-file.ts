// An SFT dataset file as conversations, whatever its format, for the stages that take one as input
// (BPO's positives; STS's and COMPACT's general instruction data). Three formats:
//
//   canonical   SFT records in the canonical schema (records.ts), images relative to the file's
//               folder (or `imageFolder`): readRecords validates them, naming file and line.
//   llava       LLaVA's JSON or JSON Lines (llava-json.ts), images relative to `imageFolder`
//               (default the file's folder); an entry with an image and no `<image>` marker gets
//               one at the start of its first turn, as LLaVA's data has it.
//   sharegpt    TRL's conversational `messages` or LLaMA-Factory's sharegpt (sharegpt.ts), images
//               relative to `imageFolder`; a system prompt goes before the first user turn's text,
//               since the canonical records hold user and assistant turns only.
//
// What comes out is the same for all three: per entry, in file order, its id (`line-<N>` when it
// has none), where it is (`data.json line 16 (id "b")`, for every later message), its turns (user
// and assistant, alternating from a user turn, an `<image>` marker at each image's place), and its
// images, read only when asked for: a missing image, or one outside the folder, is an error of the
// format's class naming the entry. Malformed entries and duplicate ids are errors naming the file
// and the line when the file is read. Nothing here decodes an image: the caller checks what it
// draws (decodeImage) before it stores anything.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { ChatImage } from "../images/chat-image.js";
import { readRecords } from "./dataset.js";
import { ImageStore, mimeTypeOfPath, resolveInside } from "./image-store.js";
import { LlavaFormatError, readLlavaFile } from "./llava-json.js";
import type { Turn } from "./records.js";
import { readShareGptFile, ShareGptFormatError } from "./sharegpt.js";

export const SFT_FILE_FORMATS = ["canonical", "llava", "sharegpt"] as const;
export type SftFileFormat = (typeof SFT_FILE_FORMATS)[number];

/** A recipe's fields naming an SFT file (BPO's positives, the general data of STS and COMPACT). */
export const SftFileFields = {
  path: z.string().min(1).describe("the SFT file, relative to the working directory"),
  format: z
    .enum(SFT_FILE_FORMATS)
    .describe(
      "canonical SFT records (JSONL), LLaVA's JSON / JSON Lines, or sharegpt: TRL's conversational messages or LLaMA-Factory's sharegpt (JSON / JSON Lines)",
    ),
  imageFolder: z.string().min(1).optional().describe("where image paths are relative to (default: the file's folder)"),
};

/** One entry of an SFT file: a whole conversation. */
export interface SftFileConversation {
  /** The entry's id, or `line-<N>` when it has none. */
  id: string;
  /** Names the entry in messages: `data.json line 12 (id "a")`. */
  where: string;
  /** User and assistant turns, alternating from a user turn, `<image>` markers at the images' places. */
  turns: Turn[];
  /** The image paths as the entry writes them, in marker order. */
  images: string[];
  /** Reads the entry's image i; a missing one is an error naming `where` (nothing is decoded). */
  readImage(i: number): ChatImage;
}

const IMAGE = "<image>\n";

/**
 * Every entry of an SFT file, checked as its format requires, in file order. `imageFolder`: where
 * image paths are relative to (default the file's folder).
 */
export function readSftFile(path: string, format: SftFileFormat, imageFolder?: string): SftFileConversation[] {
  if (format === "canonical") return canonicalConversations(path, imageFolder);
  if (format === "llava") return llavaConversations(path, imageFolder);
  return sharegptConversations(path, imageFolder);
}

/** The canonical SFT records of `path` (images relative to `root`, default the file's folder). */
function canonicalConversations(path: string, root?: string): SftFileConversation[] {
  const dataRoot = resolve(root ?? dirname(path));
  const store = new ImageStore(dataRoot);
  // readRecords names the file and line of any bad record, duplicate id or missing image; the
  // lines are read again here only to name them in the later checks (an image that does not decode).
  const records = readRecords(path, "sft", { root: dataRoot });
  const lineOf = new Map<string, number>();
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((l, i) => {
      if (l.trim() !== "") lineOf.set((JSON.parse(l) as { id: string }).id, i + 1);
    });
  return records.map((r) => {
    const where = `${path} line ${lineOf.get(r.id) ?? "?"} (id ${JSON.stringify(r.id)})`;
    return {
      id: r.id,
      where,
      turns: r.messages,
      images: r.images,
      readImage: (i) => ({ bytes: store.read(r.images[i], where), mimeType: mimeTypeOfPath(r.images[i]) }),
    };
  });
}

/** The entries of a LLaVA file (images relative to `imageFolder`, default the file's folder). */
function llavaConversations(path: string, imageFolder?: string): SftFileConversation[] {
  const folder = resolve(imageFolder ?? dirname(path));
  const ids = new Map<string, number>();
  return readLlavaFile(path).map(({ entry, line }) => {
    const id = entry.id === undefined ? `line-${line}` : String(entry.id);
    const where = `${path} line ${line} (id ${JSON.stringify(id)})`;
    const first = ids.get(id);
    if (first !== undefined) throw new LlavaFormatError(`${where}: duplicate id (first on line ${first})`);
    ids.set(id, line);
    const markers = entry.conversations.reduce((n, t) => n + (t.value.split("<image>").length - 1), 0);
    const turns: Turn[] = entry.conversations.map((t) => ({
      role: t.from === "human" ? "user" : "assistant",
      content: t.value,
    }));
    const image = entry.image;
    if (image !== undefined) {
      if (markers > 1) throw new LlavaFormatError(`${where}: ${markers} <image> markers for one image`);
      // LLaVA's data puts the marker in the first human turn; an entry without one gets it there.
      if (markers === 0) turns[0] = { role: "user", content: IMAGE + turns[0].content };
    }
    const images = image === undefined ? [] : [image];
    return { id, where, turns, images, readImage: (i) => readFileImage(folder, images[i], where, LlavaFormatError) };
  });
}

/**
 * The conversations of a TRL or LLaMA-Factory sharegpt file (images relative to `imageFolder`,
 * default the file's folder). A system prompt goes before the first user turn's text.
 */
function sharegptConversations(path: string, imageFolder?: string): SftFileConversation[] {
  const folder = resolve(imageFolder ?? dirname(path));
  return readShareGptFile(path).map((c) => {
    const turns = [...c.turns];
    if (c.system !== undefined) turns[0] = { role: "user", content: `${c.system}\n\n${turns[0].content}` };
    return {
      id: c.id,
      where: c.where,
      turns,
      images: c.images,
      readImage: (i) => readFileImage(folder, c.images[i], c.where, ShareGptFormatError),
    };
  });
}

/** An image file inside `folder`; a missing one is an error of `Failure` naming `where`. */
function readFileImage(
  folder: string,
  image: string,
  where: string,
  Failure: new (message: string) => Error,
): ChatImage {
  const file = resolveInside(folder, image, `${where}: image`);
  if (!existsSync(file)) throw new Failure(`${where}: image ${JSON.stringify(image)} not found in ${folder}`);
  return { bytes: new Uint8Array(readFileSync(file)), mimeType: mimeTypeOfPath(file) };
}
