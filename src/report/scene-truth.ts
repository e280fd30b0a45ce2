// The world's exact truth as the report reads it: for a world record id (`pool-s001578`,
// `validation-s000000`) the objects its scene holds and its image file. The split is the id's
// prefix; the pool's labels live in `pool-truth.jsonl` (the pool itself carries none).
//
// A report needs a few thousand ids out of split files of tens of MB (the instruction split of
// the default world is 32 MB), so ids are looked up in batches (`load`): each split file is
// scanned once per batch and only the lines of wanted ids are parsed and checked. A world folder
// that is missing (a run folder copied elsewhere) is no error: lookups give undefined and the
// report shows mentions unmarked, saying why.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SPLIT_NAMES, type SplitName } from "../world/config.js";
import { type SplitFile, splitPath } from "../world/read-split.js";

const TruthLineSchema = z.discriminatedUnion("kind", [
  z.looseObject({ kind: z.literal("scene"), id: z.string(), image: z.string(), objects: z.array(z.string()) }),
  z.looseObject({ kind: z.literal("creature"), id: z.string(), image: z.string() }),
]);

interface Entry {
  /** Distinct objects; undefined for a creature. */
  objects?: string[];
  image: string;
}

/** The split a world record id names by its prefix, or null when it names none. */
export function splitOfId(id: string): SplitName | null {
  const prefix = id.slice(0, id.indexOf("-"));
  return (SPLIT_NAMES as readonly string[]).includes(prefix) ? (prefix as SplitName) : null;
}

/** The file holding a split's labels: the pool's are in pool-truth.jsonl. */
const truthFile = (split: SplitName): SplitFile => (split === "pool" ? "pool-truth" : split);

/** The record id of a split line: build.ts writes `{"id":"...` first; anything else is parsed. */
function lineId(line: string): string | undefined {
  const prefix = '{"id":"';
  if (line.startsWith(prefix)) return line.slice(prefix.length, line.indexOf('"', prefix.length));
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

export class SceneTruth {
  /** Looked-up ids; null for an id its split file does not hold. */
  readonly #entries = new Map<string, Entry | null>();

  /** `dir` null or missing: no truth (every lookup gives undefined). */
  constructor(readonly dir: string | null) {}

  get available(): boolean {
    return this.dir !== null && existsSync(this.dir);
  }

  /** Reads the entries of `ids` not looked up yet, one scan per split file. */
  load(ids: Iterable<string>): void {
    const wanted = new Map<SplitName, Set<string>>();
    for (const id of ids) {
      const split = splitOfId(id);
      if (split === null || this.#entries.has(id)) continue;
      this.#entries.set(id, null);
      if (!wanted.has(split)) wanted.set(split, new Set());
      wanted.get(split)!.add(id);
    }
    if (!this.available) return;
    for (const [split, set] of wanted) this.#scan(splitPath(this.dir!, truthFile(split)), set);
  }

  /** The distinct objects of a scene; undefined for a creature, an unknown id or no world. */
  objects(id: string): string[] | undefined {
    this.load([id]);
    return this.#entries.get(id)?.objects;
  }

  /** The image file of a world record; undefined for an unknown id or no world. */
  imageFile(id: string): string | undefined {
    this.load([id]);
    const entry = this.#entries.get(id);
    return entry === null || entry === undefined ? undefined : join(this.dir!, entry.image);
  }

  #scan(path: string, ids: Set<string>): void {
    if (!existsSync(path)) return;
    const lines = readFileSync(path, "utf8").split("\n");
    lines.forEach((line, i) => {
      const id = lineId(line);
      if (id === undefined || !ids.has(id)) return;
      const parsed = TruthLineSchema.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new Error(`${path} line ${i + 1}: not a world record (${z.prettifyError(parsed.error)})`);
      const r = parsed.data;
      this.#entries.set(id, { image: r.image, objects: r.kind === "scene" ? [...new Set(r.objects)] : undefined });
    });
  }
}
