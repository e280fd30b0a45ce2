// COMPACT's registration (METHODS.md section 5; issue 19): its one stage kind, compact-sft, whose
// `data` option also makes the other arms of the data-budget comparison.
import { registerStageKind } from "../../run/stage-kind.js";
import { compactSft } from "./stages.js";

export function registerCompact(): void {
  registerStageKind(compactSft);
}
