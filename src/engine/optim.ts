// AdamW and gradient clipping over a list of parameters. The update runs in the addon in one
// call per step; the state (first and second moments, step count) is held here as ordinary
// tensors so that training checkpoints can save and restore it exactly.
import { zeros } from "./factories.js";
import { native } from "./native.js";
import { noGrad } from "./runtime.js";
import { keep } from "./scope.js";
import { EngineError, type Tensor } from "./tensor.js";

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  expAvg: Tensor[];
  expAvgSq: Tensor[];
}

export class AdamW {
  readonly params: Tensor[];
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  readonly expAvg: Tensor[];
  readonly expAvgSq: Tensor[];

  constructor(params: Tensor[], options: AdamWOptions) {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 } = options;
    if (!(lr >= 0)) throw new EngineError(`AdamW: lr ${lr} must be >= 0`);
    if (!betas.every((b) => b >= 0 && b < 1)) throw new EngineError(`AdamW: betas [${betas}] must be in [0, 1)`);
    if (!(eps > 0)) throw new EngineError(`AdamW: eps ${eps} must be > 0`);
    if (!(weightDecay >= 0)) throw new EngineError(`AdamW: weightDecay ${weightDecay} must be >= 0`);
    this.params = params;
    this.lr = lr;
    this.betas = betas;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.expAvg = noGrad(() => params.map((p) => keep(zeros(p.shape, p.dtype))));
    this.expAvgSq = noGrad(() => params.map((p) => keep(zeros(p.shape, p.dtype))));
  }

  /** Applies one update with the gradients accumulated in the parameters. */
  stepOnce(lr: number = this.lr): void {
    this.step += 1;
    native.adamwStep(
      this.params.map((p) => p.handle),
      this.expAvg.map((t) => t.handle),
      this.expAvgSq.map((t) => t.handle),
      this.step,
      lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
    );
  }

  /** Drops every parameter's gradient (set-to-none), freeing its memory. */
  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }

  /** Copies a saved state into this optimizer (shapes must match the parameter list). */
  loadState(state: AdamWState): void {
    if (state.expAvg.length !== this.params.length || state.expAvgSq.length !== this.params.length) {
      throw new EngineError(
        `AdamW.loadState: state holds ${state.expAvg.length} tensors for ${this.params.length} parameters`,
      );
    }
    for (let i = 0; i < this.params.length; i++) {
      const want = this.params[i].shape.join(",");
      if (state.expAvg[i].shape.join(",") !== want || state.expAvgSq[i].shape.join(",") !== want) {
        throw new EngineError(
          `AdamW.loadState: state ${i} has shape [${state.expAvg[i].shape}], parameter has [${want}]`,
        );
      }
      this.expAvg[i].assign(state.expAvg[i]);
      this.expAvgSq[i].assign(state.expAvgSq[i]);
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of [...this.expAvg, ...this.expAvgSq]) t.dispose();
  }
}

/**
 * Scales all gradients so that their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping; NaN or Inf is returned
 * as is, with nothing scaled, so that the caller can stop.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return native.clipGradNorm(
    params.map((p) => p.handle),
    maxNorm,
  );
}

/** False when any tensor holds NaN or Inf. */
export function allFinite(tensors: Tensor[]): boolean {
  return native.allFinite(tensors.map((t) => t.handle));
}
