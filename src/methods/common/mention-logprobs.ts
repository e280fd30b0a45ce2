// How sure a model is of each object it names: the teacher-forced log-prob of every object
// mention of a response, given the image and the words before it. A hallucinated object is one
// the language prior supplies and the image does not support, so the model that wrote it tends
// to give it a low probability when it reads the response back against the real image (on
// SceneWorld's pool the base's mention log-prob separates present from absent objects with an
// AUC of 0.73: scripts/mention-auc.ts, README STIC). STIC's `selfCheck` filter uses it.
//
// A mention's tokens are found from the token texts when the backend reports them (ScoreResult
// `pieces`: the embedded model, vLLM; one request per response). Otherwise (a server without
// `decoded_token`, or a token the texts cannot place) the response cut just before the mention
// and just after it are scored too, and the mention's tokens are those between the two cuts'
// common prefixes with the full response (1 + 2·mentions requests).
import type { ChatTurn, ScoreRequest, ScoreResult, VisionLanguageModel } from "../../backends/types.js";
import type { SynonymTable } from "../../eval/text.js";
import type { ChatImage } from "../../images/chat-image.js";

export interface MentionSpan {
  canonical: string;
  /** Character offsets in the response: [start, end). */
  start: number;
  end: number;
}

export interface ScoredMention extends MentionSpan {
  /** Sum of the log-probs of the mention's tokens. */
  logprob: number;
}

export interface ResponseToCheck {
  images: ChatImage[];
  /** The conversation before the response; ends with a user turn. */
  messages: ChatTurn[];
  response: string;
}

const WORD = /[a-z0-9]+(?:['’-][a-z0-9]+)*/g; // eval/text.ts's wordTokens, with offsets

/** Every object mention of `text` (the table's longest-match rules), with its character span. */
export function mentionSpans(text: string, table: SynonymTable): MentionSpan[] {
  const words = [...text.toLowerCase().matchAll(WORD)];
  return table.findMentionsInTokens(words.map((w) => w[0])).map((m) => {
    const first = words[m.index];
    const last = words[m.index + m.length - 1];
    return { canonical: m.canonical, start: first.index ?? 0, end: (last.index ?? 0) + last[0].length };
  });
}

/**
 * Character spans of `pieces` (token texts, in order) in `text`, found left to right ignoring
 * case; null for a piece that is not found in order (an unknown-word or end-of-turn token).
 */
export function pieceSpans(text: string, pieces: readonly string[]): ([number, number] | null)[] {
  const lower = text.toLowerCase();
  let cursor = 0;
  return pieces.map((piece) => {
    const p = piece.toLowerCase();
    const at = p === "" ? -1 : lower.indexOf(p, cursor);
    if (at < 0) return null;
    cursor = at + p.length;
    return [at, cursor];
  });
}

/**
 * Each mention's log-prob from the token texts: the sum over the tokens that overlap its span.
 * Null when the result has no texts or some mention overlaps no located token; the caller then
 * falls back to prefix cuts.
 */
function scoreFromPieces(response: string, spans: readonly MentionSpan[], result: ScoreResult): ScoredMention[] | null {
  if (result.pieces === undefined || result.pieces.length !== result.logprobs.length) return null;
  const located = pieceSpans(response, result.pieces);
  const scored: ScoredMention[] = [];
  for (const span of spans) {
    let logprob = 0;
    let tokens = 0;
    located.forEach((at, k) => {
      if (at !== null && at[0] < span.end && at[1] > span.start) {
        logprob += result.logprobs[k];
        tokens++;
      }
    });
    if (tokens === 0) return null;
    scored.push({ ...span, logprob });
  }
  return scored;
}

/**
 * The prefix-cut requests of one response: the response cut before each mention (-1 when that
 * leaves nothing, which needs no request) and cut right after it.
 */
interface CutPlan {
  before: number;
  through: number;
}

const commonPrefix = (a: readonly string[], b: readonly string[]): number => {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
};

function scoreFromCuts(
  spans: readonly MentionSpan[],
  full: ScoreResult,
  cuts: readonly CutPlan[],
  scored: readonly ScoreResult[],
  where: string,
): ScoredMention[] {
  const tokensOf = (index: number) => (index < 0 ? 0 : commonPrefix(scored[index].tokens, full.tokens));
  return cuts.map((cut, j) => {
    const start = tokensOf(cut.before);
    // A tokenizer that merges a mention with the word before it leaves no token between the
    // cuts; the token where the two first differ then stands for the mention.
    const end = Math.max(tokensOf(cut.through), start + 1);
    if (start >= full.logprobs.length)
      throw new Error(
        `scoreMentions: ${where}: mention '${spans[j].canonical}' lies past the ${full.logprobs.length} scored tokens of its response`,
      );
    return { ...spans[j], logprob: full.logprobs.slice(start, end).reduce((a, b) => a + b, 0) };
  });
}

/**
 * The log-prob of every object mention of each response, in order, by teacher forcing on
 * `backend` (which must serve scoring), `batch` responses per backend call.
 */
export async function scoreMentions(
  backend: VisionLanguageModel,
  items: readonly ResponseToCheck[],
  table: SynonymTable,
  options: { batch?: number; onProgress?: (done: number) => void; signal?: AbortSignal } = {},
): Promise<ScoredMention[][]> {
  const batch = options.batch ?? 32;
  const out: ScoredMention[][] = [];
  const request = (item: ResponseToCheck, response: string): ScoreRequest => ({
    images: item.images,
    messages: [...item.messages, { role: "assistant", content: response }],
  });
  for (let from = 0; from < items.length; from += batch) {
    options.signal?.throwIfAborted();
    const chunk = items.slice(from, from + batch);
    const spans = chunk.map((item) => mentionSpans(item.response, table));
    const fulls = await backend.score(chunk.map((item) => request(item, item.response)));
    const results = chunk.map((item, i) => scoreFromPieces(item.response, spans[i], fulls[i]));
    // The responses the token texts could not place: one more call with their prefix cuts.
    const cutRequests: ScoreRequest[] = [];
    const ask = (item: ResponseToCheck, response: string): number => cutRequests.push(request(item, response)) - 1;
    const plans = chunk.map((item, i) =>
      results[i] !== null
        ? []
        : spans[i].map((s) => {
            const before = item.response.slice(0, s.start).trimEnd();
            return {
              before: before === "" ? -1 : ask(item, before),
              through: ask(item, item.response.slice(0, s.end)),
            };
          }),
    );
    const cutScores = cutRequests.length === 0 ? [] : await backend.score(cutRequests);
    chunk.forEach((_, i) => {
      out.push(results[i] ?? scoreFromCuts(spans[i], fulls[i], plans[i], cutScores, `item ${from + i}`));
    });
    options.onProgress?.(Math.min(from + batch, items.length));
  }
  return out;
}
