// LLaVA's instruction-data format, read with the line each entry starts on, so that every error
// names the file and the line (src/data/json-entries.ts: a JSON array of entries, as LLaVA's
// `llava_v1_5_mix665k.json` and ShareGPT4V's files are, or JSON Lines, one entry per line).
//
//   {"id": "000000033471", "image": "coco/train2017/000000033471.jpg",
//    "conversations": [{"from": "human", "value": "<image>\nWhat are the colors of the bus?"},
//                      {"from": "gpt", "value": "The bus is white and red."}, ...]}
//
// Turns alternate human, gpt, human, gpt, ... (LLaVA's preprocessing assumes it too). An entry
// without `image` is a text-only conversation; `id` may be a string or a number (both occur).
import { z } from "zod";
import { formatPath } from "../util/zod-issues.js";
import { readJsonEntries } from "./json-entries.js";

export class LlavaFormatError extends Error {
  override name = "LlavaFormatError";
}

const TurnSchema = z.object({ from: z.enum(["human", "gpt"]), value: z.string() });

export const LlavaEntrySchema = z
  .looseObject({
    id: z.union([z.string().min(1), z.number()]).optional(),
    image: z.string().min(1).optional(),
    conversations: z.array(TurnSchema).min(2),
  })
  .superRefine((entry, ctx) => {
    entry.conversations.forEach((turn, i) => {
      const want = i % 2 === 0 ? "human" : "gpt";
      if (turn.from !== want)
        ctx.addIssue({ code: "custom", path: ["conversations", i, "from"], message: `expected "${want}"` });
    });
  });

export type LlavaEntry = z.infer<typeof LlavaEntrySchema>;

export interface LocatedEntry {
  entry: LlavaEntry;
  /** 1-based line of the file where the entry starts. */
  line: number;
}

function parseEntry(value: unknown, path: string, line: number): LlavaEntry {
  const parsed = LlavaEntrySchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path, "(entry)")}: ${i.message}`);
    throw new LlavaFormatError(`${path} line ${line}: not a LLaVA entry: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** Every entry of a LLaVA JSON or JSON Lines file, validated, with its line. */
export function readLlavaFile(path: string): LocatedEntry[] {
  const error = (message: string) => new LlavaFormatError(message);
  return readJsonEntries(path, { what: "LLaVA data", error }, (value, line) => ({
    entry: parseEntry(value, path, line),
    line,
  }));
}
