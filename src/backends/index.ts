// Choosing a backend: `createBackend` builds the VisionLanguageModel a recipe or the command
// line names (the embedded model in a checkpoint directory, or OpenAI-compatible servers).
import { EmbeddedBackend } from "./embedded.js";
import { HttpBackend, type HttpBackendOptions } from "./http.js";
import { type BackendNeeds, requireServes } from "./needs.js";
import type { SettlingVisionLanguageModel } from "./types.js";

export { EmbeddedBackend, EmbeddedImageTextScorer } from "./embedded.js";
export { FailureLog, type FailureRecord } from "./failures.js";
export { HttpBackend, type HttpBackendOptions } from "./http.js";
export { type BackendNeeds, requireServes } from "./needs.js";
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";
export { requestSeed } from "./seeds.js";
export { unwrapSettled } from "./settled.js";
export * from "./types.js";

export type BackendSpec =
  | { kind: "embedded"; modelDir: string }
  /** OpenAI-compatible servers: every option of HttpBackendOptions (base URLs, model, ...). */
  | ({ kind: "openai" } & HttpBackendOptions);

/** The backend a spec names; HTTP endpoints are probed lazily, at the first call that needs it. */
export function createBackend(spec: BackendSpec): SettlingVisionLanguageModel {
  switch (spec.kind) {
    case "embedded":
      return EmbeddedBackend.load(spec.modelDir);
    case "openai": {
      const { kind: _, ...options } = spec;
      return new HttpBackend(options);
    }
    default:
      throw new RangeError(
        `backend kind ${JSON.stringify((spec as { kind: unknown }).kind)}: expected "embedded" or "openai"`,
      );
  }
}

/**
 * The backend a spec names, checked now to serve `needs` (HTTP endpoints are probed at once):
 * a bad endpoint fails here, naming itself and what is wrong, before the caller does any work.
 */
export async function openBackend(spec: BackendSpec, needs: BackendNeeds): Promise<SettlingVisionLanguageModel> {
  const backend = createBackend(spec);
  try {
    if (backend instanceof HttpBackend) await backend.requireServes(needs);
    else await requireServes(backend, needs);
  } catch (error) {
    await backend.close();
    throw error;
  }
  return backend;
}

/** The model names an OpenAI-compatible server lists (GET /models at the spec's first URL). */
export async function listServedModels(spec: Omit<HttpBackendOptions, "model">): Promise<string[]> {
  const backend = new HttpBackend({ ...spec, model: "(listing)" });
  try {
    return await backend.servedModels();
  } finally {
    await backend.close();
  }
}
