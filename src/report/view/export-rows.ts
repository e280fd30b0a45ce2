// The rows `selfsynth export` writes (src/data/export: trl.ts, llava.ts, llamafactory.ts), read
// back for the viewer: each format's shape checked (an error names the field), then turned into
// the turns and sides of a record. Exports carry no provenance; TRL and LLaMA-Factory rows no id.
// The shapes accept what those trainers read (system turns, plain-string TRL content), not only
// what our exporter writes, since export folders get edited by hand.
import { z } from "zod";
import { formatPath } from "../../util/zod-issues.js";

export type ExportFormat = "trl" | "llava" | "llamafactory";

export interface ExportRow {
  kind: "sft" | "preference";
  id: string | null;
  images: string[];
  /** SFT: the whole conversation. */
  messages: { role: string; content: string }[];
  /** Preference: the conversation before the compared answers, and the two answers. */
  prompt: { role: string; content: string }[];
  chosen: string;
  rejected: string;
}

const TrlPart = z.union([
  z.object({ type: z.literal("image") }).loose(),
  z.object({ type: z.literal("text"), text: z.string() }).loose(),
]);
const TrlMessage = z.object({ role: z.string(), content: z.union([z.string(), z.array(TrlPart)]) }).loose();
const Images = z.array(z.string()).optional();
const TrlSft = z.object({ messages: z.array(TrlMessage).min(1), images: Images }).loose();
const TrlPreference = z
  .object({
    prompt: z.array(TrlMessage),
    chosen: z.array(TrlMessage).min(1),
    rejected: z.array(TrlMessage).min(1),
    images: Images,
  })
  .loose();

const LlavaTurn = z.object({ from: z.string(), value: z.string() }).loose();
const LlavaSample = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    image: z.union([z.string(), z.array(z.string())]).optional(),
    conversations: z.array(LlavaTurn).min(1),
    rejected_conversations: z.array(LlavaTurn).min(1).optional(),
  })
  .loose();

const Message = z.object({ role: z.string(), content: z.string() }).loose();
const LlamaFactorySample = z
  .object({
    messages: z.array(Message).min(1),
    chosen: Message.optional(),
    rejected: Message.optional(),
    images: Images,
  })
  .loose();

function parse<T>(schema: z.ZodType<T>, value: unknown, shape: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${formatPath(i.path, "(row)")}: ${i.message}`);
  throw new Error(`invalid ${shape} row: ${problems.join("; ")}`);
}

/** TRL's typed content as text, each image part as the `<image>` marker at its place. */
const trlText = (content: z.infer<typeof TrlMessage>["content"]) =>
  typeof content === "string"
    ? content
    : content.map((p) => (p.type === "image" ? "<image>" : (p as { text: string }).text)).join("");

const trlTurns = (messages: z.infer<typeof TrlMessage>[]) =>
  messages.map((m) => ({ role: m.role, content: trlText(m.content) }));

const LLAVA_ROLES: Record<string, string> = { human: "user", gpt: "assistant" };
const llavaTurns = (turns: z.infer<typeof LlavaTurn>[]) =>
  turns.map((t) => ({ role: LLAVA_ROLES[t.from] ?? t.from, content: t.value }));

const answer = (turns: { content: string }[]) => turns.map((t) => t.content).join("\n");

/** The row of an export entry; throws naming the field when it is not the format's shape. */
export function exportRow(value: unknown, format: ExportFormat): ExportRow {
  const none = { messages: [], prompt: [], chosen: "", rejected: "" };
  if (format === "trl") {
    if (isObject(value) && "prompt" in value) {
      const row = parse(TrlPreference, value, "TRL preference");
      return {
        ...none,
        kind: "preference",
        id: null,
        images: row.images ?? [],
        prompt: trlTurns(row.prompt),
        chosen: answer(trlTurns(row.chosen)),
        rejected: answer(trlTurns(row.rejected)),
      };
    }
    const row = parse(TrlSft, value, "TRL SFT");
    return { ...none, kind: "sft", id: null, images: row.images ?? [], messages: trlTurns(row.messages) };
  }
  if (format === "llava") {
    const row = parse(LlavaSample, value, "LLaVA");
    const images = row.image === undefined ? [] : typeof row.image === "string" ? [row.image] : row.image;
    const id = row.id === undefined ? null : String(row.id);
    const turns = llavaTurns(row.conversations);
    if (row.rejected_conversations === undefined) return { ...none, kind: "sft", id, images, messages: turns };
    // `conversations` ends with the chosen answer, `rejected_conversations` with the rejected one.
    const rejected = llavaTurns(row.rejected_conversations);
    return {
      ...none,
      kind: "preference",
      id,
      images,
      prompt: turns.slice(0, -1),
      chosen: turns[turns.length - 1].content,
      rejected: rejected[rejected.length - 1].content,
    };
  }
  const row = parse(LlamaFactorySample, value, "LLaMA-Factory");
  const images = row.images ?? [];
  if (row.chosen === undefined && row.rejected === undefined) {
    return { ...none, kind: "sft", id: null, images, messages: row.messages };
  }
  if (row.chosen === undefined || row.rejected === undefined) {
    throw new Error(`invalid LLaMA-Factory row: ${row.chosen === undefined ? "chosen" : "rejected"}: missing`);
  }
  return {
    ...none,
    kind: "preference",
    id: null,
    images,
    prompt: row.messages,
    chosen: row.chosen.content,
    rejected: row.rejected.content,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The format of a file's entries, told from its first entries that parse (`values`): the
 * canonical records carry `kind`, drops `itemId` and `reason`, LLaVA rows `conversations`, TRL
 * rows typed content (or `prompt` with message lists), LLaMA-Factory rows `chosen` as one
 * message. Plain-string SFT messages fit both TRL and LLaMA-Factory: the JSON array is
 * LLaMA-Factory's (its export writes `.json`), JSONL is TRL's. `drops.jsonl` is drops by name.
 * Undefined when nothing tells.
 */
export function detectFormat(
  name: string,
  layout: "jsonl" | "json-array",
  values: readonly unknown[],
): "records" | "drops" | ExportFormat | undefined {
  if (name === "drops.jsonl") return "drops";
  for (const value of values) {
    if (!isObject(value)) continue;
    if ("kind" in value) return "records";
    if ("itemId" in value && "reason" in value) return "drops";
    if ("conversations" in value) return "llava";
    if ("prompt" in value && Array.isArray(value.chosen)) return "trl";
    if (Array.isArray(value.messages)) {
      if (isObject(value.chosen)) return "llamafactory";
      const first = value.messages[0] as { content?: unknown } | undefined;
      if (Array.isArray(first?.content)) return "trl";
      if (typeof first?.content === "string") return layout === "json-array" ? "llamafactory" : "trl";
    }
  }
  return undefined;
}
