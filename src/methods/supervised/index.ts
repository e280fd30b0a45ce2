// The supervised ceiling's registration (issue 13): its one stage kind. Not a method: it reads
// the pool's ground truth, to measure how far a method gets from the base towards it.
import { registerStageKind } from "../../run/stage-kind.js";
import { supervisedSft } from "./stages.js";

export function registerSupervised(): void {
  registerStageKind(supervisedSft);
}
