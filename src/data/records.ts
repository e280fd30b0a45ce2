// The canonical training records every method writes and every trainer and exporter reads
// (DESIGN.md, Data): SFT samples and preference pairs, each with its images (content-addressed
// paths inside the dataset root) and its provenance. Validated with zod at every boundary: a bad
// record is reported by its source, its line and the exact field.
import { z } from "zod";
import { formatPath } from "../util/zod-issues.js";

/** An image of the dataset: `images/<sha256>.<ext>`, relative to the dataset root. */
export const ImagePathSchema = z
  .string()
  .regex(/^images\/[0-9a-f]{64}\.(png|jpg)$/, "expected images/<sha256>.png or .jpg (a content-addressed store path)");

/** A turn; a user turn holds one `<image>` marker per image, in the order of `images`. */
export const TurnSchema = z
  .object({
    role: z.enum(["user", "assistant"]),
    content: z.string(),
  })
  .strict();
export type Turn = z.infer<typeof TurnSchema>;

/** Where a record came from and why it looks as it does. */
export const ProvenanceSchema = z
  .object({
    method: z.string().min(1).describe("e.g. stic, bpo, csr, sts, compact"),
    stage: z.string().min(1).describe("the recipe stage that made it"),
    round: z.number().int().min(0).optional(),
    model: z.string().min(1).describe("the backend name that generated it"),
    seed: z.number().int().min(0).optional(),
    /** Sampling parameters of the generated parts (temperature, top_p, max_tokens...). */
    sampling: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).optional(),
    /** Scores the method computed (rewards, similarities, log-probs...). */
    scores: z.record(z.string(), z.number()).optional(),
    /** Short codes for how the record was made (e.g. `rejected:corrupted-image:jitter`). */
    reasons: z.array(z.string()).optional(),
    /** The source item (world record id, original dataset id). */
    source: z.string().optional(),
  })
  .strict();
export type Provenance = z.infer<typeof ProvenanceSchema>;

const markerCount = (turns: readonly Turn[]) =>
  turns.filter((t) => t.role === "user").reduce((n, t) => n + (t.content.split("<image>").length - 1), 0);

export const SftRecordSchema = z
  .object({
    kind: z.literal("sft"),
    id: z.string().min(1),
    images: z.array(ImagePathSchema),
    /** User and assistant turns, alternating, starting with the user and ending with the assistant. */
    messages: z.array(TurnSchema).min(2),
    provenance: ProvenanceSchema,
  })
  .strict()
  .superRefine((r, ctx) => {
    r.messages.forEach((m, i) => {
      const want = i % 2 === 0 ? "user" : "assistant";
      if (m.role !== want) ctx.addIssue({ code: "custom", path: ["messages", i, "role"], message: `expected ${want}` });
    });
    if (r.messages.length % 2 !== 0)
      ctx.addIssue({ code: "custom", path: ["messages"], message: "must end with an assistant turn" });
    const markers = markerCount(r.messages);
    if (markers !== r.images.length)
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: `${r.images.length} images but ${markers} <image> markers in the user turns`,
      });
  });
export type SftRecord = z.infer<typeof SftRecordSchema>;

export const PreferenceRecordSchema = z
  .object({
    kind: z.literal("preference"),
    id: z.string().min(1),
    images: z.array(ImagePathSchema),
    /** The conversation before the compared answers; ends with a user turn. */
    prompt: z.array(TurnSchema).min(1),
    chosen: z.string(),
    rejected: z.string(),
    /** Reference-model summed log-probs of the two answers, when computed once with the pairs. */
    reference: z.object({ chosen: z.number(), rejected: z.number() }).strict().optional(),
    provenance: ProvenanceSchema,
  })
  .strict()
  .superRefine((r, ctx) => {
    const last = r.prompt[r.prompt.length - 1];
    if (last.role !== "user")
      ctx.addIssue({ code: "custom", path: ["prompt", r.prompt.length - 1, "role"], message: "must be a user turn" });
    const markers = markerCount(r.prompt);
    if (markers !== r.images.length)
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: `${r.images.length} images but ${markers} <image> markers in the prompt`,
      });
  });
export type PreferenceRecord = z.infer<typeof PreferenceRecordSchema>;

export const TrainingRecordSchema = z.union([SftRecordSchema, PreferenceRecordSchema]);
export type TrainingRecord = SftRecord | PreferenceRecord;

export class RecordError extends Error {
  override name = "RecordError";
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${formatPath(i.path, "(record)")}: ${i.message}`);
  throw new RecordError(`${where}: invalid record: ${problems.join("; ")}`);
}

/** `where` names the input, e.g. `pairs.jsonl line 12`. */
export function parseSftRecord(value: unknown, where: string): SftRecord {
  return parseWith(SftRecordSchema, value, where);
}

export function parsePreferenceRecord(value: unknown, where: string): PreferenceRecord {
  return parseWith(PreferenceRecordSchema, value, where);
}

export function parseTrainingRecord(value: unknown, where: string): TrainingRecord {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === "sft") return parseSftRecord(value, where);
  if (kind === "preference") return parsePreferenceRecord(value, where);
  throw new RecordError(`${where}: invalid record: kind: expected "sft" or "preference", got ${JSON.stringify(kind)}`);
}
