// Gives an aligned (or base) model the tower's readout heads without changing what it computes
// (withReadout: zero weights on the new projector inputs), so that `pretrain base --from OUT`
// can measure what the readout adds to a model trained without it (README, "Diagnosis since").
//
//   node --import tsx scripts/add-readout.ts --model runs/v2/aligned --tagger runs/v2/vision --out runs/exp/aligned-ro
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadVisionTowerInto, taggerReadoutHeads } from "../src/models/tagger-io.js";
import { loadVLM, saveVLM } from "../src/models/vlm-io.js";
import { withReadout } from "../src/models/vlm-readout.js";

const { values: a } = parseArgs({
  options: { model: { type: "string" }, tagger: { type: "string" }, out: { type: "string" } },
});
if (a.model === undefined || a.tagger === undefined || a.out === undefined) {
  console.error("usage: add-readout.ts --model DIR --tagger DIR --out DIR");
  process.exit(1);
}
const { model, tokenizer } = loadVLM(a.model);
const heads = taggerReadoutHeads(a.tagger);
const wide = withReadout(model, heads);
model.dispose();
loadVisionTowerInto(a.tagger, wide.config.vision, wide.parameters, heads);
saveVLM(a.out, wide, tokenizer);
wide.dispose();
// The training record travels along, so `pretrain base` sees which world the model was trained on.
const info = join(a.model, "train-info.json");
if (existsSync(info)) copyFileSync(info, join(a.out, "train-info.json"));
console.log(`${a.out}: ${a.model} reading ${Object.keys(heads).join(", ")} of ${a.tagger}`);
