// The recipe's model as the runner uses it: a checkpoint folder (the embedded backend), or a
// served model (OpenAI-compatible endpoints). A served model is named in stage results and the
// report by a label, `endpoint:<name>@<first base URL>`, which the runner opens as the endpoints;
// its API key comes from the environment variable the recipe names, checked when the run starts.
// Also at the start: what each stage needs of the model (stage kinds declare it: stage-kind.ts),
// so that a stage the endpoint cannot serve fails before any generation is spent.
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
export function endpointLabel(endpoint: EndpointModel): string {
  return `endpoint:${endpoint.model}@${endpoint.baseUrls[0]}`;
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
): BackendSpec & { kind: "openai" } {
  let apiKey: string | undefined;
  if (endpoint.apiKeyEnv !== undefined) {
    apiKey = env[endpoint.apiKeyEnv];
    if (apiKey === undefined || apiKey === "")
      throw new ModelSourceError(
        `${source}: model.endpoint.apiKeyEnv: the environment variable ${endpoint.apiKeyEnv} is not set (it should hold the API key of ${endpoint.baseUrls.join(", ")})`,
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
 * Every stage runs on the endpoint (none can train it), so each must do without weights and
 * without the embedded model's insides; throws naming the first stage that cannot, and how to go on.
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
    if (needs.weights === true)
      throw new ModelSourceError(
        `${at} trains its model, and the model is the endpoint ${where}: this run does not hold its weights. Set dataOnly: true on the stage to make its data only (export it with selfsynth export and train elsewhere), or give model: a checkpoint folder`,
      );
  }
}

/** What the run asks of its model: every stage's backend needs, and an image per request to evaluate. */
export function runNeeds(recipe: Recipe): BackendNeeds {
  const needs: BackendNeeds = { images: recipe.eval.benches.length > 0 ? 1 : 0 };
  for (const s of recipe.stages) {
    const b = stageNeeds(s).backend ?? {};
    needs.images = Math.max(needs.images ?? 0, b.images ?? 0);
    if (b.scoring === true) needs.scoring = true;
    if (b.generationLogprobs === true) needs.generationLogprobs = true;
  }
  return needs;
}
