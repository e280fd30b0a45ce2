// CSR's candidate generator on the embedded VLM (candidates.ts): each node's next sentences by
// diverse group beam search (the released code's proposal) or by plain sampling, every node of
// one call in one batch. A sentence ends on a token holding the stop mark ('.'), or on the
// answer's end token, or after `maxSentenceTokens`.
//
// Caches (`cache: kv`, the default): a node keeps the KV cache of its tokens (prompt and image
// included; src/models/token-search-driver.ts), so continuing it encodes only its sentence's
// last token. A node's cache is freed when the node is expanded (its children carry their own)
// or released by the search, so memory holds the active nodes of the trees, not the trees.
// `cache: none` re-encodes each node's whole sequence when it is expanded, one node at a time,
// as the released code does: the speed baseline (`npm run bench -- csr`), with equal outputs.
import { requestSeed } from "../../backends/seeds.js";
import { encodeChat } from "../../models/chat-template.js";
import { GroupBeamSearch } from "../../models/group-beam-search.js";
import { disposeKvState, type KvState } from "../../models/kv-rows.js";
import { SampledSearch } from "../../models/sampled-search.js";
import { bannedTokenIds } from "../../models/sampling.js";
import { expandCached, expandNaive, type MakeSearch, type SearchStart } from "../../models/token-search-driver.js";
import type { Tokenizer } from "../../models/tokenizer.js";
import type { VLM } from "../../models/vlm.js";
import type { CandidateGenerator, CandidateSentence, ExpandRequest, Proposal } from "./candidates.js";

export interface EmbeddedCandidateOptions {
  proposal: Proposal;
  /** Most new tokens of one sentence (the released code: 70). */
  maxSentenceTokens: number;
  /** The character that ends a sentence (the released code: '.'). */
  stopMark: string;
  /** Seeds the sampling proposal, per node. */
  seed: number;
  cache: "kv" | "none";
  /** Decodes a prompt's image into the model's input. */
  pixels: (request: ExpandRequest) => Promise<Float32Array>;
}

interface NodeEntry {
  /** Prompt and answer tokens. */
  tokens: number[];
  /** Where the answer starts in tokens. */
  answerFrom: number;
  image: Float32Array;
  /** The cache of tokens but the last (cache: kv). */
  state: KvState | null;
}

/** The ids that end a sentence: every token holding the stop mark, and the answer's end tokens. */
export function sentenceEndIds(tokenizer: Tokenizer, stopMark: string): Set<number> {
  const ids = new Set([tokenizer.specialIds.end, tokenizer.specialIds.eos]);
  for (let id = 0; id < tokenizer.vocabSize; id++) if (tokenizer.tokenOf(id).includes(stopMark)) ids.add(id);
  return ids;
}

export class EmbeddedCandidateGenerator implements CandidateGenerator {
  readonly name: string;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #ends: Set<number>;
  readonly #banned: Set<number>;

  constructor(
    readonly model: VLM,
    readonly tokenizer: Tokenizer,
    readonly options: EmbeddedCandidateOptions,
    name = "embedded",
  ) {
    if (options.stopMark === "") throw new RangeError("csr candidates: stopMark is empty");
    this.name = name;
    this.#ends = sentenceEndIds(tokenizer, options.stopMark);
    this.#banned = bannedTokenIds(tokenizer, model.config.vocabSize);
  }

  async #entry(request: ExpandRequest): Promise<NodeEntry> {
    const known = this.#nodes.get(request.node);
    if (known) return known;
    if (request.prefix !== "")
      throw new Error(`csr candidates: unknown node ${JSON.stringify(request.node)} (released, or never returned)`);
    const tokens = encodeChat(this.tokenizer, request.prompt.messages, {
      numImageTokens: this.model.numImageTokens,
      addGenerationPrompt: true,
    }).inputIds;
    const entry = { tokens, answerFrom: tokens.length, image: await this.options.pixels(request), state: null };
    this.#nodes.set(request.node, entry);
    return entry;
  }

  #makeSearch(requests: readonly ExpandRequest[]): MakeSearch {
    const { proposal: p, maxSentenceTokens } = this.options;
    return (i, room) => {
      const common = { maxNewTokens: Math.min(maxSentenceTokens, room), endIds: this.#ends, bannedIds: this.#banned };
      if (p.kind === "sampling") {
        const seed = requestSeed(this.options.seed, `csr-node:${requests[i].node}`);
        return new SampledSearch({ ...common, n: p.n, temperature: p.temperature, topP: p.topP, seed });
      }
      return new GroupBeamSearch({
        ...common,
        numBeams: p.beams,
        numGroups: p.groups,
        numReturn: p.returned,
        diversityPenalty: p.diversityPenalty,
      });
    };
  }

  async expand(requests: readonly ExpandRequest[]): Promise<CandidateSentence[][]> {
    const seen = new Set<string>();
    for (const r of requests) {
      if (seen.has(r.node)) throw new Error(`csr candidates: node ${JSON.stringify(r.node)} requested twice`);
      seen.add(r.node);
    }
    const entries: NodeEntry[] = [];
    for (const r of requests) entries.push(await this.#entry(r));
    const starts: SearchStart[] = entries.map((e) => ({ tokens: e.tokens, image: e.image, state: e.state }));
    const expand = this.options.cache === "kv" ? expandCached : expandNaive;
    const out = expand(this.model, this.tokenizer.specialIds.pad, starts, this.#makeSearch(requests));
    // Every requested node is expanded once: its cache has served (its children hold their own).
    this.release(requests.map((r) => r.node));
    return out.map((hyps, i) =>
      hyps.map((h, j) => {
        const parent = entries[i];
        const node = `${requests[i].node}.${j}`;
        const tokens = [...parent.tokens, ...h.tokenIds];
        const ended = h.finish === "end" && !this.#isStop(h.tokenIds[h.tokenIds.length - 1]);
        const full = tokens.length >= this.model.config.decoder.maxPositions;
        const finish = ended ? "end" : full ? "context" : h.finish === "end" ? "sentence" : "length";
        if (ended || full) {
          if (h.state) disposeKvState(h.state);
        } else {
          this.#nodes.set(node, { tokens, answerFrom: parent.answerFrom, image: parent.image, state: h.state });
        }
        const decode = (ids: number[]) => this.tokenizer.decode(ids, { skipSpecial: true }).trim();
        return {
          node,
          sentence: decode(h.tokenIds),
          response: decode(tokens.slice(parent.answerFrom)),
          logprobs: h.logprobs,
          lmScore: h.score,
          finish,
          final: ended || full,
        } satisfies CandidateSentence;
      }),
    );
  }

  /** A sentence's stop mark (not the answer's end). */
  #isStop(id: number | undefined): boolean {
    const s = this.tokenizer.specialIds;
    return id !== undefined && id !== s.end && id !== s.eos && this.#ends.has(id);
  }

  release(nodes: readonly string[]): void {
    for (const node of nodes) {
      const entry = this.#nodes.get(node);
      if (entry?.state) disposeKvState(entry.state);
      this.#nodes.delete(node);
    }
  }

  /** Nodes still held (a test's and the bench's check that the search prunes). */
  get held(): number {
    return this.#nodes.size;
  }

  async close(): Promise<void> {
    this.release([...this.#nodes.keys()]);
  }
}
