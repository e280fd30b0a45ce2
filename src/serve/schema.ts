// Request bodies of the API, validated with zod. Fields follow OpenAI's chat completions API
// and vLLM's extensions to it (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html):
// `top_k`, `prompt_logprobs`, `add_generation_prompt`, `continue_final_message`,
// `include_stop_str_in_output`, `return_tokens_as_token_ids`. Unknown fields are ignored, as
// both servers do; known fields this server cannot honour (penalties, logit_bias, tools, beam
// search, ...) are refused when set to anything but their neutral value, rather than silently
// changing what the client asked for.
import { z } from "zod";
import { formatPath } from "../util/zod-issues.js";
import { ApiError } from "./errors.js";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });
const ImagePart = z.object({
  type: z.literal("image_url"),
  image_url: z.object({ url: z.string(), detail: z.enum(["auto", "low", "high"]).optional() }),
});
export type ContentPart = z.infer<typeof TextPart> | z.infer<typeof ImagePart>;

const TextContent = z.union([z.string(), z.array(TextPart)]);
const UserContent = z.union([z.string(), z.array(z.discriminatedUnion("type", [TextPart, ImagePart]))]);

export const Message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content: TextContent, name: z.string().optional() }),
  z.object({ role: z.literal("developer"), content: TextContent, name: z.string().optional() }),
  z.object({ role: z.literal("user"), content: UserContent, name: z.string().optional() }),
  z.object({
    role: z.literal("assistant"),
    content: TextContent.nullable().optional(),
    name: z.string().optional(),
  }),
]);
export type Message = z.infer<typeof Message>;

/** Fields of the request that only have a neutral value here. */
const neutral = <T extends z.ZodType>(schema: T, isNeutral: (v: z.infer<T>) => boolean, what: string) =>
  schema
    .nullable()
    .optional()
    .refine((v) => v === null || v === undefined || isNeutral(v as z.infer<T>), {
      message: `not supported by this server (${what})`,
    });

const Conversation = {
  model: z.string().nullable().optional(),
  messages: z.array(Message).min(1),
  add_generation_prompt: z.boolean().default(true),
  continue_final_message: z.boolean().default(false),
};

export const ChatCompletionRequest = z.looseObject({
  ...Conversation,
  n: z.number().int().min(1).nullable().default(1),
  temperature: z.number().min(0).max(100).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  /** vLLM: -1 or 0 = all tokens. */
  top_k: z.number().int().min(-1).nullable().optional(),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1))])
    .nullable()
    .optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  prompt_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().nullable().optional() }).loose().nullable().optional(),
  include_stop_str_in_output: z.boolean().default(false),
  return_tokens_as_token_ids: z.boolean().nullable().optional(),
  frequency_penalty: neutral(z.number(), (v) => v === 0, "only 0"),
  presence_penalty: neutral(z.number(), (v) => v === 0, "only 0"),
  repetition_penalty: neutral(z.number(), (v) => v === 1, "only 1"),
  logit_bias: neutral(z.record(z.string(), z.number()), (v) => Object.keys(v).length === 0, "only empty"),
  tools: neutral(z.array(z.unknown()), (v) => v.length === 0, "no tool calling"),
  response_format: neutral(z.object({ type: z.string() }).loose(), (v) => v.type === "text", 'only {"type": "text"}'),
  ignore_eos: neutral(z.boolean(), (v) => !v, "only false"),
  min_tokens: neutral(z.number(), (v) => v === 0, "only 0"),
  use_beam_search: neutral(z.boolean(), (v) => !v, "only false"),
  echo: neutral(z.boolean(), (v) => !v, "only false"),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** vLLM's /tokenize: a raw prompt, or messages rendered with the chat template. */
export const TokenizePromptRequest = z.looseObject({
  model: z.string().nullable().optional(),
  prompt: z.string(),
  add_special_tokens: z.boolean().default(true),
  return_token_strs: z.boolean().nullable().optional(),
});
export const TokenizeChatRequest = z.looseObject({
  ...Conversation,
  add_special_tokens: z.boolean().default(false),
  return_token_strs: z.boolean().nullable().optional(),
});

export const DetokenizeRequest = z.looseObject({
  model: z.string().nullable().optional(),
  tokens: z.array(z.number().int().min(0)),
});

/** Parses body with schema; the first problem becomes a 400 naming its field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "the request body must be a JSON object", null, "invalid_request");
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = deepestIssue(result.error.issues);
  const param = formatPath(issue.path, "");
  const code = issue.code === "unrecognized_keys" ? "unknown_field" : "invalid_value";
  throw new ApiError(400, param === "" ? issue.message : `${param}: ${issue.message}`, param || null, code);
}

/** For a union (e.g. a message's content), zod reports the branches' issues nested: use the one that got furthest. */
function deepestIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  let best = issues[0];
  const visit = (issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]) => {
    const full = { ...issue, path: [...prefix, ...issue.path] } as z.core.$ZodIssue;
    if (full.path.length > best.path.length) best = full;
    if (issue.code === "invalid_union") {
      for (const branch of issue.errors) for (const sub of branch) visit(sub, full.path);
    }
  };
  for (const issue of issues) visit(issue, []);
  return best;
}
