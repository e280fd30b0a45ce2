// Joining an answer's prefix and the continuation a backend returned for it
// (GenerationRequest.assistantPrefix): BPO's prior-continuation negatives and CSR's served
// sentences. A server returns only the new text, and whether that text carries the space between
// the two depends on it: vLLM detokenizes with the prefix's tokens as context and keeps the space
// (" In the ..."); the embedded tokenizer (and so `selfsynth serve`) decodes a continuation
// alone, without it ("in the ...", while the whole answer decodes as "sky. in the ...").

/**
 * The prefix, then the continuation, with a space between them unless one side already has
 * whitespace there or the continuation starts with punctuation; trailing whitespace dropped.
 * (A continuation that goes on inside the prefix's last word, as a BPE model's may after a cut
 * mid-word, gets a space it should not: callers cut at whole words or sentences.)
 */
export function joinContinuation(prefix: string, continuation: string): string {
  if (prefix === "") return continuation.trim();
  const rest = continuation.replace(/\s+$/, "");
  if (rest === "" || /\s$/.test(prefix) || /^\s/.test(rest) || /^[.,;:!?)]/.test(rest)) return prefix + rest;
  return `${prefix} ${rest}`;
}
