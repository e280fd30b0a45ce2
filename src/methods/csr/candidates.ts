// What CSR's sentence-level search (search.ts) asks of a model: candidate next sentences for
// each node of its trees. A node is a prompt with the start of an answer; the generator names
// every candidate it returns as a new node, which the search either expands later or releases.
// The interface is all the search knows, so that a generator may keep per-node state (the
// embedded one keeps each node's KV cache, embedded-candidates.ts) or none (the served one sends
// the prompt with the prefix as a continued assistant message to any backend, asks for `n`
// samples with `stop: ["."]` and their log-probs, and keeps nothing: served-candidates.ts).
import type { ChatTurn } from "../../backends/types.js";
import type { ChatImage } from "../../images/chat-image.js";

/**
 * How a node's candidates are proposed: the released code's diverse group beam search (the
 * embedded generator only: it steps the decoder's beams itself), or independent samples (both).
 */
export type Proposal =
  | { kind: "diverse-beam"; beams: number; groups: number; returned: number; diversityPenalty: number }
  | SamplingProposal;

export type SamplingProposal = { kind: "sampling"; n: number; temperature: number; topP: number };

/** One tree's prompt: an image and the conversation, ending with the user's turn. */
export interface SearchPrompt {
  id: string;
  image: ChatImage;
  messages: ChatTurn[];
}

export interface ExpandRequest {
  /** The node to expand: a prompt's id for its root, else a node id a candidate carried. */
  node: string;
  prompt: SearchPrompt;
  /** The answer so far ("" at the root). */
  prefix: string;
}

export interface CandidateSentence {
  /** The new node (the prefix and this sentence): expand it later, or release it. */
  node: string;
  /** The sentence alone, as scored for relevance. */
  sentence: string;
  /** The answer with this sentence, as the model's tokens decode. */
  response: string;
  /** The model's raw log-prob of each of the sentence's tokens. */
  logprobs: number[];
  /** The proposer's own score: beam search's (length-normalized, diversity-penalized), or the mean log-prob of a sample. */
  lmScore: number;
  /**
   * sentence: ended on the stop mark; end: the answer ended; length: the sentence hit its token
   * limit; context: the model's context is full. The last two and end stop the path's growth
   * only when final says so.
   */
  finish: "sentence" | "end" | "length" | "context";
  /** No further sentence can follow (the answer ended or the context is full). */
  final: boolean;
}

export interface CandidateGenerator {
  readonly name: string;
  /** Candidate next sentences of each node, in request order; each node is expanded at most once. */
  expand(requests: readonly ExpandRequest[]): Promise<CandidateSentence[][]>;
  /** Nodes that will not be expanded: whatever the generator keeps for them can go. */
  release(nodes: readonly string[]): void;
  /** Releases every node still held (the model stays open: it belongs to the caller). */
  close(): Promise<void>;
}
