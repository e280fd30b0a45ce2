// BPO's registration (METHODS.md section 2): its one stage kind.
import { registerStageKind } from "../../run/stage-kind.js";
import { bpoPreferences } from "./stages.js";

export function registerBpo(): void {
  registerStageKind(bpoPreferences);
}
