// CSR's registrations (METHODS.md section 3): its stage kind, one iteration per stage.
import { registerStageKind } from "../../run/stage-kind.js";
import { csrIteration } from "./stages.js";

export function registerCsr(): void {
  registerStageKind(csrIteration);
}
