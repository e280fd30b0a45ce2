// STIC's registrations (METHODS.md section 1): its two stage kinds and its inference mode.
import { registerInferenceMode } from "../../run/inference-mode.js";
import { registerStageKind } from "../../run/stage-kind.js";
import { describeFirstMode } from "./describe-then-answer.js";
import { sticInfusedSft, sticPreferences } from "./stages.js";

export function registerStic(): void {
  registerStageKind(sticPreferences);
  registerStageKind(sticInfusedSft);
  registerInferenceMode(describeFirstMode);
}
