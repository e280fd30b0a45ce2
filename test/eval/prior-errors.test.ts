import assert from "node:assert/strict";
import { test } from "node:test";
import { chairHallucinationPriorShare, isPriorPartner, popeFalseYesPriorShare } from "../../src/eval/prior-errors.js";
import type { EvalRecord } from "../../src/eval/types.js";

const pairs = [
  { anchor: "star", partner: "crescent", p: 0.9, pAlone: 0.05 },
  { anchor: "heart", partner: "diamond", p: 0.9, pAlone: 0.05 },
];

const record = (image: string, verdict: unknown, groundTruth: unknown, finish: "stop" | "length" = "stop") =>
  ({
    item_id: `${image}/${JSON.stringify(groundTruth)}`,
    image_id: image,
    prompt: "",
    raw_answer: "",
    parsed_answer: null,
    ground_truth: groundTruth,
    verdict,
    finish_reason: finish,
  }) as EvalRecord;

test("a partner is prior-driven only beside its own anchor", () => {
  assert.equal(isPriorPartner("crescent", ["star", "ring"], pairs), true);
  assert.equal(isPriorPartner("crescent", ["heart"], pairs), false);
  assert.equal(isPriorPartner("star", ["crescent"], pairs), false, "the anchor is not the partner's partner");
});

test("POPE: the share of false yes answers asked about a present anchor's partner", () => {
  const objects = new Map([
    ["a", ["star"]],
    ["b", ["heart", "ring"]],
  ]);
  const records = [
    record("a", "FP", { object: "crescent", label: "no" }), // prior-driven
    record("a", "FP", { object: "diamond", label: "no" }), // diamond's anchor is absent
    record("b", "FP", { object: "diamond", label: "no" }), // prior-driven
    record("b", "TN", { object: "crescent", label: "no" }), // not an error
    record("b", "TP", { object: "ring", label: "yes" }),
  ];
  // 3 false yes answers, 2 about a partner: 2/3.
  assert.deepEqual(popeFalseYesPriorShare(records, objects, pairs), { of: 3, prior: 2, share: 2 / 3 });
  assert.throws(() => popeFalseYesPriorShare([record("z", "FP", { object: "star" })], objects, pairs), /image z/);
});

test("CHAIR: hallucinated partners counted on the chosen images only; no error gives share 0", () => {
  const records = [
    record("a", { hallucinated: ["crescent", "ring"] }, { objects: ["star"] }),
    record("b", { hallucinated: ["diamond"] }, { objects: ["heart"] }), // not among the images asked
    record("c", { hallucinated: [] }, { objects: ["heart"] }),
  ];
  assert.deepEqual(chairHallucinationPriorShare(records, new Set(["a", "c"]), pairs), { of: 2, prior: 1, share: 0.5 });
  assert.deepEqual(chairHallucinationPriorShare(records, new Set(["c"]), pairs), { of: 0, prior: 0, share: 0 });
});
