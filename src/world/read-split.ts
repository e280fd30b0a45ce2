// Reading a built split back: `<dir>/<split>.jsonl` (and the pool's `pool-truth.jsonl`) as
// build.ts writes them, one JSON record per line. Every reader of a built world (the methods'
// items, the training examples, the benchmarks, the pool's truth) goes through here with a schema
// of the fields it reads, so that a bad file fails the same way everywhere: an error naming the
// file, the line and what is wrong, or, for a missing file, the command that builds it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { SplitName } from "./config.js";
import type { WorldRecord } from "./splits.js";

export class WorldSplitError extends Error {
  override name = "WorldSplitError";
}

/** The files a split build writes: `<split>.jsonl`, and for the pool its truth. */
export type SplitFile = SplitName | "pool-truth";

const where = { id: z.string().min(1), image: z.string().min(1), sha256: z.string().optional() };

/** What every line of every split holds: enough to find the image (the pool's lines hold no more). */
export const splitLineSchema = z.object({ ...where, kind: z.enum(["scene", "creature"]) });

const texts = {
  caption: z.string().optional(),
  description: z.string().optional(),
  questions: z.array(z.looseObject({ question: z.string(), answer: z.string() })).optional(),
};

/**
 * A whole record as splits.ts makes it. The fields that readers use are checked; the scene graph
 * and the creature are checked to be objects and otherwise taken as build.ts wrote them (a schema
 * of the whole graph would restate scene.ts's types), hence the cast to WorldRecord.
 */
export const worldRecordSchema = z.discriminatedUnion("kind", [
  z.looseObject({
    ...where,
    ...texts,
    kind: z.literal("scene"),
    objects: z.array(z.string()),
    scene: z.looseObject({}),
  }),
  z.looseObject({
    ...where,
    ...texts,
    kind: z.literal("creature"),
    species: z.string(),
    visibleConcepts: z.array(z.string()),
    creature: z.looseObject({}),
  }),
]) as unknown as z.ZodType<WorldRecord>;

/** The path of a split file of the world at dir. */
export function splitPath(dir: string, file: SplitFile): string {
  return join(dir, `${file}.jsonl`);
}

/** Every record of a split file, checked against schema (whole records by default). */
export function readWorldSplit(dir: string, file: SplitFile): WorldRecord[];
export function readWorldSplit<T>(dir: string, file: SplitFile, schema: z.ZodType<T>): T[];
export function readWorldSplit<T>(dir: string, file: SplitFile, schema?: z.ZodType<T>): T[] {
  const check = schema ?? (worldRecordSchema as unknown as z.ZodType<T>);
  const path = splitPath(dir, file);
  if (!existsSync(path)) {
    const split = file === "pool-truth" ? "pool" : file;
    throw new WorldSplitError(
      `${path} not found; build it with: selfsynth world build --config <yaml> --out ${dir} --split ${split}`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new WorldSplitError(`${path}: cannot read (${(error as Error).message})`);
  }
  const out: T[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new WorldSplitError(`${path} line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    const parsed = check.safeParse(value);
    if (!parsed.success) {
      throw new WorldSplitError(`${path} line ${i + 1}: not a world record (${z.prettifyError(parsed.error)})`);
    }
    out.push(parsed.data);
  }
  return out;
}
