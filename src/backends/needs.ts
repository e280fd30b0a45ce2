// What a command will ask of a backend, checked when it starts: a server that cannot serve it
// (no images, no scoring, ...) is refused before any work is done, naming what is missing,
// instead of failing on the first item hours into a run.
import { type BackendCapabilities, BackendCapabilityError, type VisionLanguageModel } from "./types.js";

export interface BackendNeeds {
  /** Images per request (an evaluation: 1). */
  images?: number;
  /** Teacher-forced scoring of given responses (DPO reference log-probs, CSR, self-checks). */
  scoring?: boolean;
  /** Per-token log-probs of generated text. */
  generationLogprobs?: boolean;
}

export interface NeedCheck {
  feature: keyof BackendCapabilities;
  /** Names the need in messages. */
  what: string;
  ok(capabilities: BackendCapabilities): boolean;
}

/** One check per need asked for. */
export function needChecks(needs: BackendNeeds): NeedCheck[] {
  const checks: NeedCheck[] = [];
  const images = needs.images ?? 0;
  if (images > 0) {
    checks.push({
      feature: "maxImagesPerRequest",
      what: `${images} image(s) per request`,
      ok: (c) => c.maxImagesPerRequest >= images,
    });
  }
  if (needs.scoring === true)
    checks.push({ feature: "scoring", what: "teacher-forced scoring (prompt_logprobs)", ok: (c) => c.scoring });
  if (needs.generationLogprobs === true)
    checks.push({ feature: "generationLogprobs", what: "per-token log-probs", ok: (c) => c.generationLogprobs });
  return checks;
}

/** For a backend with one set of capabilities (the embedded one): throws naming what it lacks. */
export async function requireServes(backend: VisionLanguageModel, needs: BackendNeeds): Promise<void> {
  const capabilities = await backend.capabilities();
  const missing = needChecks(needs).filter((check) => !check.ok(capabilities));
  if (missing.length > 0)
    throw new BackendCapabilityError(`${backend.name} does not serve ${missing.map((m) => m.what).join(", ")}`);
}
