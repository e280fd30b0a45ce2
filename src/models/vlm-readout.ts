// Giving an existing VLM the tower's readout heads (VLMConfig.readout) without changing what it
// computes: the projector's first layer gains zero-weight columns for the new channels, so the
// model answers exactly as before until training teaches it to use them. The aligned stage
// uses it on a language-stage model (whose projector is untrained anyway); an experiment can use
// it to continue an aligned model that had no readout.
import { noGrad, tensorFrom, tidy } from "../engine/index.js";
import { VLM, visionTokenChannels } from "./vlm.js";

/** A new VLM with config.readout = readout and every weight of model; the heads' weights start at zero. */
export function withReadout(model: VLM, readout: Record<string, number>): VLM {
  if (model.config.readout !== undefined)
    throw new RangeError(`withReadout: the model already reads ${JSON.stringify(model.config.readout)}`);
  if (model.lora !== null) throw new RangeError("withReadout: merge the model's LoRA adapters first");
  const out = new VLM({ ...model.config, readout });
  try {
    const oldChannels = visionTokenChannels(model.config);
    const newChannels = visionTokenChannels(out.config);
    noGrad(() => {
      for (const [name, target] of out.parameters) {
        tidy(() => {
          if (name.startsWith("vision.readout.")) {
            target.assign(tensorFrom(new Float32Array(target.shape.reduce((a, b) => a * b, 1)), target.shape));
            return;
          }
          const source = model.parameters.get(name);
          if (source === undefined) throw new RangeError(`withReadout: the model has no ${name}`);
          if (name === "projector.fc1.weight") {
            target.assign(widenColumns(source.toFloat32(), source.shape, oldChannels, newChannels));
          } else {
            target.assign(source);
          }
        });
      }
    });
    out.setVisionFrozen(model.visionFrozen);
    return out;
  } catch (error) {
    out.dispose();
    throw error;
  }
}

/**
 * fc1's weight (H, t^2 * oldChannels) laid out per merged vision token, widened to
 * (H, t^2 * newChannels): each token's old columns first, then zeros for its new channels.
 */
function widenColumns(w: Float32Array, shape: readonly number[], oldChannels: number, newChannels: number) {
  const [rows, cols] = shape;
  const tokens = cols / oldChannels;
  const wide = new Float32Array(rows * tokens * newChannels);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < tokens; j++) {
      const from = r * cols + j * oldChannels;
      wide.set(w.subarray(from, from + oldChannels), r * tokens * newChannels + j * newChannels);
    }
  }
  return tensorFrom(wide, [rows, tokens * newChannels]);
}
