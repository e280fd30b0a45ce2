// COMPACT's teacher as any served VLM behind the backend (METHODS.md section 5, steps 2 and 4):
// the paper asks Gemini-2.0-Flash (temperature 0.1, top-p 0.9) for one question needing exactly
// k capabilities, a short answer and a confidence, then asks again, in a separate call, whether
// the question needs exactly those k capabilities. The wording below is ours, written from the
// paper's rules (not answerable without the image, unambiguous, only objects that are present, no
// two questions joined by "and", a word or phrase as answer); the capability definitions are ours
// too, for the ten atomic capabilities. Prompts are snapshot-tested: a change is deliberate.
//
// Answers are JSON, parsed with zod after dropping code fences and any text around the object; a
// malformed one is dropped with its reason code (`malformed-answer`, `malformed-verification`),
// never repaired. Verification passes when the verifier says valid AND names exactly the k asked
// capabilities (the released code checks only their number).
import { z } from "zod";
import type { GenerationParams, VisionLanguageModel } from "../../backends/types.js";
import { CAPABILITIES, type Capability } from "../../world/questions.js";
import { comboKey } from "./combinations.js";
import type { Proposal, Proposed, Teacher, Verified } from "./teacher.js";

/** The paper's teacher sampling (Gemini-2.0-Flash, temperature 0.1, top-p 0.9). */
export const PAPER_TEACHER_SAMPLING = { temperature: 0.1, topP: 0.9 } as const;

/** One line per capability: what the teacher and the verifier read. */
export const CAPABILITY_DEFINITIONS: Readonly<Record<Capability, string>> = {
  color: "naming or comparing the colours of things",
  shape: "recognizing the shapes of things",
  object_recognition: "identifying and naming the objects that are present",
  action_recognition: "telling what something is doing, such as whether and where it moves",
  text_recognition: "reading text written in the image",
  spatial_recognition: "knowing where things are in the image as a whole (which part of the picture, the layout)",
  counting: "telling how many there are of something",
  spatial_relationship: "knowing where one particular thing is relative to another (left of, above, next to)",
  object_interaction: "seeing how two or more things interact, such as touching or acting on each other",
  scene_understanding: "telling what kind of place or setting the image shows",
};

const definitions = () => CAPABILITIES.map((c) => `- ${c}: ${CAPABILITY_DEFINITIONS[c]}`).join("\n");
const listed = (capabilities: readonly Capability[]) => CAPABILITIES.filter((c) => capabilities.includes(c));
const plural = (k: number) => (k === 1 ? "capability" : "capabilities");

/** The question request: one user turn with the image. */
export function questionPrompt(capabilities: readonly Capability[]): string {
  const caps = listed(capabilities);
  return `<image>
Write one question about this image that needs exactly these ${caps.length} visual ${plural(caps.length)}, no more and no fewer: ${caps.join(", ")}.

The capabilities:
${definitions()}

Rules:
- The question can only be answered by looking at the image; its answer must not follow from its own words.
- It has one clear answer: nothing subjective or ambiguous.
- It asks only about things that are in the image.
- It is one question: do not join two questions with "and" or a comma.
- The answer is a single word or a short phrase.

Reply with one JSON object and nothing else:
{"question": "...", "answer": "...", "confidence": <0 to 100, how sure you are that the answer is right>}`;
}

/** The verification request: text only (as the released code sends it), one user turn. */
export function verificationPrompt(question: string, answer: string, capabilities: readonly Capability[]): string {
  const caps = listed(capabilities);
  return `A question about an image, with its answer:
Question: ${question}
Answer: ${answer}

Does answering it need exactly these ${caps.length} visual ${plural(caps.length)}, all of them and no other major one: ${caps.join(", ")}?

The capabilities:
${definitions()}

Reply with one JSON object and nothing else:
{"valid": <true or false>, "reason": "<one short sentence>", "capabilities_used": [<the capabilities from the list above that answering it needs>]}`;
}

/** The JSON object in a model's reply: code fences dropped, from the first "{" to the last "}". */
export function extractJsonObject(text: string): unknown {
  let body = text.trim();
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(body);
  if (fenced !== null) body = fenced[1];
  const start = body.indexOf("{");
  const end = body.lastIndexOf("}");
  if (start < 0 || end < start) return undefined;
  try {
    return JSON.parse(body.slice(start, end + 1));
  } catch {
    return undefined;
  }
}

const Confidence = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\s*\d+(\.\d+)?\s*$/)
      .transform(Number),
  ])
  .pipe(z.number().min(0).max(100));

const QuestionJson = z.object({
  question: z.string().trim().min(1),
  answer: z.union([z.string(), z.number()]).transform((a) => String(a).trim()),
  confidence: Confidence,
});

/** The teacher's answer: {question, answer, confidence}, or the released format {questions: [that]} (the first). */
const TeacherAnswerSchema = z.union([
  QuestionJson,
  z.object({ questions: z.array(QuestionJson).min(1) }).transform((v) => v.questions[0]),
]);

const VerificationSchema = z.object({
  valid: z.boolean(),
  reason: z.string().optional(),
  capabilities_used: z.array(z.string()),
});

export type Parsed<T, R extends string> = { ok: true; value: T } | { ok: false; reason: R; detail: string };

/** The teacher's reply as a question, answer and confidence; anything else is `malformed-answer`. */
export function parseTeacherAnswer(text: string): Parsed<Omit<Proposal, "program">, "malformed-answer"> {
  const json = extractJsonObject(text);
  if (json === undefined) return { ok: false, reason: "malformed-answer", detail: "no JSON object" };
  const parsed = TeacherAnswerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed-answer", detail: z.prettifyError(parsed.error) };
  return { ok: true, value: parsed.data };
}

/** A capability name as a verifier may write it ("Object recognition") in the canonical form. */
export const canonicalCapability = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");

/**
 * The verifier's reply: passes when valid is true and the capabilities it names are exactly the
 * asked ones (any order, any case); `not-verified` otherwise; `malformed-verification` when the
 * reply is not that JSON.
 */
export function judgeVerification(
  text: string,
  capabilities: readonly Capability[],
): { ok: true } | { ok: false; reason: "not-verified" | "malformed-verification"; detail: string } {
  const json = extractJsonObject(text);
  if (json === undefined) return { ok: false, reason: "malformed-verification", detail: "no JSON object" };
  const parsed = VerificationSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed-verification", detail: z.prettifyError(parsed.error) };
  const named = new Set(parsed.data.capabilities_used.map(canonicalCapability));
  const exact = named.size === capabilities.length && capabilities.every((c) => named.has(c));
  if (!parsed.data.valid) return { ok: false, reason: "not-verified", detail: parsed.data.reason ?? "valid: false" };
  if (!exact)
    return {
      ok: false,
      reason: "not-verified",
      detail: `named ${[...named].join("+") || "none"}, asked ${comboKey(capabilities)}`,
    };
  return { ok: true };
}

export interface ServedTeacherOptions {
  temperature: number;
  topP: number;
  /** Tokens of the question reply and of the verification reply. */
  maxTokens: number;
  verifyMaxTokens: number;
  /** Request seeds derive from it and the request id (src/backends/seeds.ts). */
  seed: number;
}

/** A teacher over a served VLM; closing it closes the backend. */
export function servedTeacher(backend: VisionLanguageModel, options: ServedTeacherOptions): Teacher {
  const params = (maxTokens: number): GenerationParams => ({
    n: 1,
    temperature: options.temperature,
    topP: options.topP,
    topK: 0,
    maxTokens,
    stop: [],
    seed: options.seed,
    logprobs: false,
  });
  const ask = async (
    id: string,
    images: Parameters<VisionLanguageModel["generate"]>[0][number]["images"],
    prompt: string,
    maxTokens: number,
  ) => {
    const [samples] = await backend.generate(
      [{ id, images, messages: [{ role: "user", content: prompt }] }],
      params(maxTokens),
    );
    return samples[0].text;
  };
  return {
    name: backend.name,
    sampling: { temperature: options.temperature, top_p: options.topP, max_tokens: options.maxTokens },
    async propose(image, capabilities, _rng, requestId): Promise<Proposed> {
      const reply = await ask(requestId, [image.image], questionPrompt(capabilities), options.maxTokens);
      const parsed = parseTeacherAnswer(reply);
      return parsed.ok ? { ok: true, proposal: parsed.value } : { ok: false, reason: parsed.reason };
    },
    async verify(_image, proposal, capabilities, requestId): Promise<Verified> {
      const prompt = verificationPrompt(proposal.question, proposal.answer, capabilities);
      const verdict = judgeVerification(
        await ask(`${requestId}/verify`, [], prompt, options.verifyMaxTokens),
        capabilities,
      );
      return verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason };
    },
    close: () => backend.close(),
  };
}
