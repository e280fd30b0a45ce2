import assert from "node:assert/strict";
import { test } from "node:test";
import { setNumThreads, type Tensor, tensor, tidy } from "../../src/engine/index.js";
import { DPO_METRICS, dpoLoss, pairLogps, type RejectedLogp, sequenceLogps } from "../../src/train/dpo-loss.js";
import { gradcheck, uniform } from "../engine/gradcheck.js";

setNumThreads(1);

const close = (actual: number, expected: number, what: string, tol = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual}, expected ${expected}`);

// β = 0.5, α = 0.25. L_i = -log σ(z_i) - α πc_i with z_i = β[(πc_i - rc_i) - (πr_i - rr_i)];
// -log σ(z) = log(1 + e^-z); dL/dπc = -β σ(-z) - α, dL/dπr = +β σ(-z).
// Pair 1: πc = -2, rc = -3, πr = -4, rr = -3.
//   rewards: chosen 0.5·1 = 0.5, rejected 0.5·(-1) = -0.5, margin 1, z = 1.
//   log(1 + e^-1) = 0.313261687518; α term -0.25·(-2) = +0.5; L1 = 0.813261687518.
//   σ(-1) = 0.268941421370: dπc = -0.134470710685 - 0.25 = -0.384470710685, dπr = 0.134470710685.
// Pair 2: πc = -5, rc = -4.5, πr = -2, rr = -4.
//   rewards: chosen 0.5·(-0.5) = -0.25, rejected 0.5·2 = 1, margin -1.25, z = -1.25.
//   log(1 + e^1.25) = 1.501929081345; α term -0.25·(-5) = +1.25; L2 = 2.751929081345.
//   σ(1.25) = 0.777299861175: dπc = -0.388649930587 - 0.25 = -0.638649930587, dπr = 0.388649930587.
// Sums over the two pairs: loss 3.565190768864; rewards/chosen 0.25, rewards/rejected 0.5,
// rewards/margins -0.25, rewards/accuracies 1, logps/chosen -7, logps/rejected -6.
test("the DPO loss, its metrics and its gradient match a hand computation", () => {
  tidy(() => {
    const policy = {
      chosen: tensor([-2, -5], "float64").requiresGrad_(),
      rejected: tensor([-4, -2], "float64").requiresGrad_(),
    };
    const reference = { chosen: tensor([-3, -4.5], "float64"), rejected: tensor([-3, -4], "float64") };
    const r = dpoLoss(policy, reference, { beta: 0.5, alpha: 0.25 });
    assert.equal(r.count, 2);
    close(r.loss.item(), 3.565190768864, "loss", 1e-9);
    const expected: Record<string, number> = {
      "rewards/chosen": 0.25,
      "rewards/rejected": 0.5,
      "rewards/margins": -0.25,
      "rewards/accuracies": 1,
      "logps/chosen": -7,
      "logps/rejected": -6,
    };
    assert.deepEqual(Object.keys(r.metrics).sort(), [...DPO_METRICS].sort());
    for (const [k, v] of Object.entries(expected)) close(r.metrics[k as keyof typeof r.metrics], v, k, 1e-12);
    r.loss.backward();
    const gc = policy.chosen.grad!.toArray();
    const gr = policy.rejected.grad!.toArray();
    close(gc[0], -0.384470710685, "dL/dπc_1", 1e-9);
    close(gc[1], -0.638649930587, "dL/dπc_2", 1e-9);
    close(gr[0], 0.134470710685, "dL/dπr_1", 1e-9);
    close(gr[1], 0.388649930587, "dL/dπr_2", 1e-9);

    // α = 0 is plain DPO: the likelihood term (0.5 + 1.25) is gone.
    const plain = dpoLoss(policy, reference, { beta: 0.5, alpha: 0 });
    close(plain.loss.item(), 0.313261687518 + 1.501929081345, "alpha 0", 1e-9);
  });
});

test("the log-sigmoid stays finite for huge margins", () => {
  tidy(() => {
    const ref = { chosen: tensor([0, 0], "float32"), rejected: tensor([0, 0], "float32") };
    const policy = { chosen: tensor([0, 0], "float32"), rejected: tensor([-1e4, 1e4], "float32") };
    const r = dpoLoss(policy, ref, { beta: 1, alpha: 0 });
    // z = +1e4: loss ~ 0; z = -1e4: loss = 1e4 (not Infinity).
    close(r.loss.item(), 1e4, "loss", 1e-2);
  });
});

// Logits (2, 3, 3): row 0 = the chosen sequence, row 1 = the rejected one; position t predicts t + 1.
// Row 0 labels [-100, 1, 2]: position 0 logits [0, 1, 0] -> token 1, position 1 [1, 0, 0] -> token 2.
// Row 1 labels [-100, 0, 1]: position 0 logits [2, 1, 0] -> token 0, position 1 [0, 1, 3] -> token 1.
// Let A = log(1 + 2e) ... spelled out: logsumexp([0,1,0]) = log(2 + e) = 1.551444713932,
// logsumexp([1,0,0]) = log(e + 2) = 1.551444713932, logsumexp([2,1,0]) = log(e² + e + 1) =
// 2.407605964444, logsumexp([0,1,3]) = log(1 + e + e³) = 3.169846019556.
//   chosen  = (1 - 1.551444713932) + (0 - 1.551444713932) = -2.102889427864 (both variants)
//   rejected, "response":  (2 - 2.407605964444) + (1 - 3.169846019556) = -2.577452
//   rejected, "stic-code": position 0's top token is 0 = y_l's, so the second best, 1:
//     1 - 2.407605964444; position 1's top token is 2 != y_l's 1, so token 2: 3 - 3.169846019556.
//     Sum = -1.407605964444 - 0.169846019556 = -1.577451984000.
// The last position of each row predicts nothing; its logits (all 9) must not matter.
const LOGITS = [0, 1, 0, 1, 0, 0, 9, 9, 9, 2, 1, 0, 0, 1, 3, 9, 9, 9];
const LABELS = [-100, 1, 2, -100, 0, 1];

test("summed response log-probs and the released STIC code's rejected variant match a hand computation", () => {
  tidy(() => {
    const logits = tensor(LOGITS, "float64", [2, 3, 3]);
    const labels = tensor(LABELS, "int64", [2, 3]);
    const response = pairLogps(logits, labels, "response");
    close(response.chosen.item(), -2.102889427864, "chosen", 1e-9);
    close(response.rejected.item(), -2.577451984, "rejected (response)", 1e-9);
    const stic = pairLogps(logits, labels, "stic-code");
    close(stic.chosen.item(), -2.102889427864, "chosen is never changed", 1e-9);
    close(stic.rejected.item(), -1.577451984, "rejected (stic-code)", 1e-9);
    // sequenceLogps row by row agrees with pairLogps.
    assert.deepEqual(sequenceLogps(logits, labels).toArray(), [response.chosen.item(), response.rejected.item()]);
  });
});

// Two pairs (4 rows) of T = 6, V = 5: a prompt, 2-3 response tokens, then padding (-100).
const GRAD_LABELS = [
  [-100, -100, 3, 1, -100, -100],
  [-100, -100, -100, 2, 0, 4],
  [-100, -100, 4, 4, 1, -100],
  [-100, -100, -100, 0, 2, -100],
].flat();

for (const variant of ["response", "stic-code"] as RejectedLogp[]) {
  test(`the gradient of the loss w.r.t. the logits matches finite differences (${variant})`, () => {
    tidy(() => {
      const labels = tensor(GRAD_LABELS, "int64", [4, 6]);
      const reference = { chosen: tensor([-4.1, -3.2], "float64"), rejected: tensor([-3.9, -5.0], "float64") };
      // Distinct values (gap) so that the top-2 order of "stic-code" never flips within ±h.
      const logits = uniform([4, 6, 5], { lo: -2, hi: 2, gap: 1e-3, seed: 7 });
      const fn = (x: Tensor) => dpoLoss(pairLogps(x, labels, variant), reference, { beta: 0.7, alpha: 0.3 }).loss;
      gradcheck(fn, [logits], { h: 1e-6, atol: 1e-7, rtol: 1e-5 });
    });
  });
}

test("mismatched shapes and bad coefficients are refused", () => {
  tidy(() => {
    const p = { chosen: tensor([0, 0]), rejected: tensor([0, 0]) };
    assert.throws(() => dpoLoss(p, p, { beta: 0, alpha: 0 }), /beta/);
    assert.throws(() => dpoLoss(p, p, { beta: 0.1, alpha: -1 }), /alpha/);
    assert.throws(
      () => dpoLoss(p, { chosen: tensor([0]), rejected: tensor([0, 0]) }, { beta: 0.1, alpha: 0 }),
      /reference\.chosen/,
    );
    assert.throws(
      () => pairLogps(tensor(LOGITS, "float32", [2, 3, 3]).slice(0, 0, 1), tensor([1, 1, 1], "int64", [1, 3])),
      /2 per pair/,
    );
    assert.throws(
      () => sequenceLogps(tensor(LOGITS, "float32", [2, 3, 3]), tensor([1, 1], "int64", [1, 2])),
      /do not match/,
    );
  });
});
