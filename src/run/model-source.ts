// The recipe's model as the runner uses it: a checkpoint folder (the embedded backend), or a
// served model (OpenAI-compatible endpoints). A served model is named in stage results and the
// report by a label, `endpoint:<name>@<first base URL>`, which the runner opens as the endpoints;
// its API key comes from the environment variable the recipe names, checked when the run starts.
// Also at the start: what each stage needs of the model (stage kinds declare it: stage-kind.ts),
// so that a stage the endpoint cannot serve fails before any generation is spent. A stage that
// trains a served model is no such stage: it hands its training off and the run waits for the
// trained model, which `--continue-with` gives as another endpoint (src/run/runner.ts).
import type { BackendNeeds, BackendSpec } from "../backends/index.js";
import type { EndpointModel, ModelRef, Recipe } from "./recipe.js";
import { type StageConfig, stageNeeds } from "./stage-kind.js";

export class ModelSourceError extends Error {
  override name = "ModelSourceError";
}

export function endpointOf(model: ModelRef): EndpointModel | null {
  return typeof model === "string" ? null : model.endpoint;
}

/** How stage results and the report name a served model. */
export function endpointLabel(endpoint: { model: string; baseUrls: readonly string[] }): string {
  return `endpoint:${endpoint.model}@${endpoint.baseUrls[0]}`;
}

/** Whether a stage result's model names a served model (endpointLabel) rather than a folder. */
export function isEndpointLabel(model: string): boolean {
  return model.startsWith("endpoint:");
}

/** The model as stages get it: the folder, or the endpoint's label. */
export function modelLabel(model: ModelRef): string {
  const endpoint = endpointOf(model);
  return endpoint === null ? (model as string) : endpointLabel(endpoint);
}

/** The backend spec of an endpoint model; the API key read now from its environment variable. */
export function endpointSpec(
  endpoint: EndpointModel,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  field = "model.endpoint.apiKeyEnv",
): BackendSpec & { kind: "openai" } {
  let apiKey: string | undefined;
  if (endpoint.apiKeyEnv !== undefined) {
    apiKey = env[endpoint.apiKeyEnv];
    if (apiKey === undefined || apiKey === "")
      throw new ModelSourceError(
        `${source}: ${field}: the environment variable ${endpoint.apiKeyEnv} is not set (it should hold the API key of ${endpoint.baseUrls.join(", ")})`,
      );
  }
  return {
    kind: "openai",
    baseUrls: endpoint.baseUrls,
    model: endpoint.model,
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(endpoint.concurrency === undefined ? {} : { concurrency: endpoint.concurrency }),
    ...(endpoint.timeoutMs === undefined ? {} : { timeoutMs: endpoint.timeoutMs }),
    ...(endpoint.maxAttempts === undefined ? {} : { retry: { maxAttempts: endpoint.maxAttempts } }),
  };
}

/**
 * Every stage runs on a served model: the recipe's endpoint, or the trained model a hand-off waits
 * for (served too). A stage that trains hands its training off (no weights are needed here); one
 * that runs inside the embedded model itself cannot run at all. Throws naming the first such stage.
 */
export function checkStagesOverEndpoint(stages: readonly StageConfig[], endpoint: EndpointModel, source: string): void {
  const where = `${endpoint.model} at ${endpoint.baseUrls.join(", ")}`;
  for (const [i, s] of stages.entries()) {
    const needs = stageNeeds(s);
    const at = `${source}: stages[${i}] ${s.name} (${s.type})`;
    if (needs.embeddedOnly !== undefined)
      throw new ModelSourceError(
        `${at} cannot run over the endpoint model ${where}: ${needs.embeddedOnly}; give model: a checkpoint folder`,
      );
  }
}

/**
 * What the run asks of its model: the backend needs of `stages` (default: every stage), and an
 * image per request when it evaluates.
 */
export function runNeeds(recipe: Recipe, stages: readonly StageConfig[] = recipe.stages): BackendNeeds {
  const needs: BackendNeeds = { images: recipe.eval.benches.length > 0 ? 1 : 0 };
  for (const s of stages) {
    const b = stageNeeds(s).backend ?? {};
    needs.images = Math.max(needs.images ?? 0, b.images ?? 0);
    if (b.scoring === true) needs.scoring = true;
    if (b.generationLogprobs === true) needs.generationLogprobs = true;
  }
  return needs;
}
