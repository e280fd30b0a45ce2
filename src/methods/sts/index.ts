// STS's registration (METHODS.md section 4): its one stage kind, sts-round (one stage per round).
import { registerStageKind } from "../../run/stage-kind.js";
import { stsRound } from "./stages.js";

export function registerSts(): void {
  registerStageKind(stsRound);
}
