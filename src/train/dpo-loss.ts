// Direct Preference Optimization loss (Rafailov et al., arXiv 2305.18290) with STIC's likelihood
// term on the chosen answer (Deng et al., arXiv 2405.19716; METHODS.md section 1):
//
//   L_i = -log σ(β[(πc_i - rc_i) - (πr_i - rr_i)]) - α·πc_i
//
// π = the policy's log-prob of a response summed over its tokens, r = the reference's, c / r
// subscripts = chosen / rejected. The sum is taken over the labelled positions only (labels
// -100 on prompt, image and padding tokens), shifted as in sft-loss.ts: position t predicts t + 1.
// Batches are TRL's concatenated layout: rows 0..P-1 are the chosen sequences of P pairs, rows
// P..2P-1 the rejected ones in the same order, so both sides go through one forward.
import { type Tensor, where } from "../engine/index.js";
import { IGNORE_INDEX } from "./types.js";

/**
 * Which log-prob the rejected side uses.
 * - "response" (the paper, and the default): log π(y_l | x), summed over y_l's tokens.
 * - "stic-code" (the released STIC code, stic/dpo_trainer.py `_get_noisy_batch_logps`): at each
 *   response position of y_l, the log-prob of the model's own top token instead of y_l's token,
 *   or of its second-best token when the top one *is* y_l's token. The position set (and so the
 *   length) is still y_l's. STIC applies it to the policy and the reference alike, each with its
 *   own logits; so do we.
 */
export type RejectedLogp = "response" | "stic-code";

/** Summed log-probs of each pair's chosen and rejected response: two (P,) tensors. */
export interface PairLogps {
  chosen: Tensor;
  rejected: Tensor;
}

/** The names TRL's DPOTrainer logs, so that runs compare with the established trainers'. */
export const DPO_METRICS = [
  "rewards/chosen",
  "rewards/rejected",
  "rewards/margins",
  "rewards/accuracies",
  "logps/chosen",
  "logps/rejected",
] as const;
export type DpoMetric = (typeof DPO_METRICS)[number];

/**
 * Per-row sums (B,) of the log-probs of the labelled tokens, from logits (B, T, V) and labels
 * (B, T) aligned with the inputs (not yet shifted). With variant "stic-code" each labelled
 * position scores the model's best token other than the label (see RejectedLogp).
 */
export function sequenceLogps(logits: Tensor, labels: Tensor, variant: RejectedLogp = "response"): Tensor {
  const [B, T, V] = logits.shape;
  if (logits.rank !== 3 || labels.rank !== 2 || labels.size(0) !== B || labels.size(1) !== T) {
    throw new RangeError(`sequenceLogps: labels [${labels.shape}] do not match logits [${logits.shape}]`);
  }
  const shifted = logits.slice(1, 0, T - 1); // (B, T-1, V): column t predicts token t + 1
  const targets = labels.slice(1, 1, T); // (B, T-1)
  const ignored = targets.eq(IGNORE_INDEX);
  const safe = targets.maskedFill(ignored, 0); // -100 is no index for gather; its term is zeroed below
  let index = safe;
  if (variant === "stic-code") {
    if (V < 2) throw new RangeError(`sequenceLogps: "stic-code" needs a vocabulary of at least 2, got ${V}`);
    // The top-2 ids carry no gradient; the gradient flows through the log-prob gathered at them.
    const top = shifted.topk(2, -1).indices; // (B, T-1, 2), best first
    const first = top.select(2, 0);
    index = where(first.eq(safe), top.select(2, 1), first);
  }
  const perToken = shifted.logSoftmax(-1).gather(2, index.unsqueeze(-1)).squeeze(-1); // (B, T-1)
  return perToken.maskedFill(ignored, 0).sum(1);
}

/** Chosen (rows 0..P-1) and rejected (rows P..2P-1) summed log-probs of a concatenated batch. */
export function pairLogps(logits: Tensor, labels: Tensor, rejectedLogp: RejectedLogp = "response"): PairLogps {
  const rows = logits.size(0);
  if (rows % 2 !== 0) throw new RangeError(`pairLogps: ${rows} rows; a concatenated batch holds 2 per pair`);
  const P = rows / 2;
  return {
    chosen: sequenceLogps(logits.slice(0, 0, P), labels.slice(0, 0, P), "response"),
    rejected: sequenceLogps(logits.slice(0, P, rows), labels.slice(0, P, rows), rejectedLogp),
  };
}

export interface DpoLossOptions {
  /** Scale of the implicit reward; > 0. */
  beta: number;
  /** STIC's weight of -log π(y_w | x) (the code's 1/1024); 0 = plain DPO. */
  alpha: number;
}

export interface DpoLossResult {
  /** Scalar: the sum over pairs (the trainer divides by the pairs of the whole step). */
  loss: Tensor;
  /** Pairs in the sum. */
  count: number;
  /** Each metric summed over the pairs, like the loss. */
  metrics: Record<DpoMetric, number>;
}

/**
 * The loss of P pairs from the policy's and the reference's summed log-probs ((P,) each). The
 * reference is detached: only the policy gets gradients. The log-sigmoid is libtorch's
 * (log σ(z) = min(z, 0) - log1p(e^-|z|)), finite for any finite z.
 */
export function dpoLoss(policy: PairLogps, reference: PairLogps, opts: DpoLossOptions): DpoLossResult {
  const { beta, alpha } = opts;
  if (!(beta > 0 && Number.isFinite(beta))) throw new RangeError(`dpoLoss: beta ${beta} must be a finite number > 0`);
  if (!(alpha >= 0 && Number.isFinite(alpha))) throw new RangeError(`dpoLoss: alpha ${alpha} must be >= 0`);
  const P = policy.chosen.size(0);
  for (const [name, t] of Object.entries({
    "policy.chosen": policy.chosen,
    "policy.rejected": policy.rejected,
    "reference.chosen": reference.chosen,
    "reference.rejected": reference.rejected,
  })) {
    if (t.rank !== 1 || t.size(0) !== P) throw new RangeError(`dpoLoss: ${name} is [${t.shape}], expected [${P}]`);
  }
  const refChosen = reference.chosen.detach();
  const refRejected = reference.rejected.detach();
  const z = policy.chosen.sub(refChosen).sub(policy.rejected.sub(refRejected)).mul(beta); // (P,)
  let losses = z.logSigmoid().neg();
  if (alpha !== 0) losses = losses.sub(policy.chosen.mul(alpha));
  return { loss: losses.sum(), count: P, metrics: pairMetrics(policy, refChosen, refRejected, beta) };
}

/** TRL's metrics, summed over the pairs, computed in float64 from the (detached) log-probs. */
function pairMetrics(policy: PairLogps, refChosen: Tensor, refRejected: Tensor, beta: number) {
  const pc = policy.chosen.detach().toFloat64();
  const pr = policy.rejected.detach().toFloat64();
  const rc = refChosen.toFloat64();
  const rr = refRejected.toFloat64();
  const m: Record<DpoMetric, number> = Object.fromEntries(DPO_METRICS.map((k) => [k, 0])) as Record<DpoMetric, number>;
  for (let i = 0; i < pc.length; i++) {
    const chosen = beta * (pc[i] - rc[i]);
    const rejected = beta * (pr[i] - rr[i]);
    m["rewards/chosen"] += chosen;
    m["rewards/rejected"] += rejected;
    m["rewards/margins"] += chosen - rejected;
    m["rewards/accuracies"] += chosen > rejected ? 1 : 0;
    m["logps/chosen"] += pc[i];
    m["logps/rejected"] += pr[i];
  }
  return m;
}
