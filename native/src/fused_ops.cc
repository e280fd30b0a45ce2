// Fused model ops for the transformer blocks (src/models/layers.ts). Each replaces a chain of
// small ops and boundary crossings on the hot path with one call; tests check each against the
// unfused chain (values and gradients, test/engine/fused.test.ts).
//
// Fused projections: Q, K and V (and an MLP's gate and up) run as one GEMM with their weights
// concatenated along the output dimension. Under autograd the concatenation is made per forward
// (cheap next to the GEMM), so that gradients reach the separate named parameters; without
// autograd it is kept in a WeightCache, rebuilt when any source tensor changes (libtorch's
// version counter, bumped by every in-place write: optimizer steps, assign, ...).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"

namespace selfsynth {

#define T(i) Unwrap(info, i)

constexpr uint32_t kCacheTag = 0x43414348;  // "CACH"

// A cache of concatenated weights, one entry per slot (e.g. 0 = weights, 1 = biases). Its tensors
// are not counted as live tensors: they are derived data owned by a layer, freed by
// disposeWeightCache (ParamStore.dispose) or, failing that, by the finalizer.
struct WeightCache {
  uint32_t tag;
  struct Entry {
    std::vector<at::Tensor> sources;  // strong references, compared by identity
    std::vector<int64_t> versions;
    at::Tensor fused;
  };
  std::vector<Entry> entries;
};

static void FinalizeCache(Napi::BasicEnv, WeightCache* cache) { delete cache; }

static WeightCache* UnwrapCache(const Napi::CallbackInfo& info, size_t index) {
  WeightCache* cache = nullptr;
  if (index < info.Length() && info[index].IsExternal()) cache = info[index].As<Napi::External<WeightCache>>().Data();
  if (cache == nullptr || cache->tag != kCacheTag) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(index) + " is not a weight cache");
  }
  return cache;
}

static bool AnyRequiresGrad(const std::vector<at::Tensor>& ts) {
  for (const auto& t : ts) {
    if (t.requires_grad()) return true;
  }
  return false;
}

// The sources concatenated along dim 0: cached when no gradient can flow, else made afresh.
static at::Tensor Fused(WeightCache* cache, size_t slot, const std::vector<at::Tensor>& sources) {
  if (sources.size() == 1) return sources[0];
  if (cache == nullptr || (c10::GradMode::is_enabled() && AnyRequiresGrad(sources))) return at::cat(sources, 0);
  if (cache->entries.size() <= slot) cache->entries.resize(slot + 1);
  auto& e = cache->entries[slot];
  bool valid = e.fused.defined() && e.sources.size() == sources.size();
  for (size_t i = 0; valid && i < sources.size(); i++) {
    valid = e.sources[i].unsafeGetTensorImpl() == sources[i].unsafeGetTensorImpl() &&
            e.versions[i] == sources[i]._version();
  }
  if (!valid) {
    c10::AutoGradMode off(false);
    e.sources = sources;
    e.versions.clear();
    for (const auto& s : sources) e.versions.push_back(s._version());
    e.fused = at::cat(sources, 0);
  }
  return e.fused;
}

SS_FN(newWeightCache) {
  auto* cache = new WeightCache{kCacheTag, {}};
  return Napi::External<WeightCache>::New(info.Env(), cache, FinalizeCache);
}

// disposeWeightCache(cache): frees the cached tensors (and the references to their sources) now.
SS_FN(disposeWeightCache) {
  UnwrapCache(info, 0)->entries.clear();
  return info.Env().Undefined();
}

// tensorVersion(t): libtorch's version counter (t._version()), bumped by every in-place write.
SS_FN(tensorVersion) { return Napi::Number::New(info.Env(), static_cast<double>(T(0)._version())); }

static c10::optional<std::vector<at::Tensor>> OptionalList(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || info[index].IsNull() || info[index].IsUndefined()) return c10::nullopt;
  return UnwrapList(info, index);
}

static c10::optional<WeightCache*> OptionalCache(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || info[index].IsNull() || info[index].IsUndefined()) return c10::nullopt;
  return UnwrapCache(info, index);
}

// softmax(q k^T / sqrt(D) + bias) v for q [B, H, Tq, D], k and v [B, H, Tk, D]; mask is null, a
// bool [B|1, 1, Tq, Tk] (true = may attend) or a float additive bias of that shape. The scores
// are one baddbmm (scale as alpha, mask as the added input), instead of matmul, mul and where.
at::Tensor ScaledAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const c10::optional<at::Tensor>& mask) {
  int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), D = q.size(3), Tk = k.size(2);
  double scale = 1.0 / std::sqrt(static_cast<double>(D));
  at::Tensor q3 = q.reshape({B * H, Tq, D});
  at::Tensor kT = k.reshape({B * H, Tk, D}).transpose(1, 2);  // (BH, D, Tk)
  at::Tensor scores;
  if (mask && mask->defined()) {
    at::Tensor bias = *mask;
    TORCH_CHECK(bias.dim() == 4, "mask must be [B|1, 1|H, Tq|1, Tk|1], got ", bias.sizes());
    if (bias.scalar_type() == at::kBool) {
      bias = at::where(bias, at::Scalar(0.0), at::Scalar(-std::numeric_limits<double>::infinity())).to(q.scalar_type());
    }
    // One (1, Tq, Tk) bias broadcasts over every batch and head; a per-row one is laid out per head.
    at::Tensor bias3 = bias.size(0) == 1 && bias.size(1) == 1
                           ? bias.expand({1, 1, Tq, Tk}).reshape({1, Tq, Tk})
                           : bias.expand({B, H, Tq, Tk}).reshape({B * H, Tq, Tk});
    scores = at::baddbmm(bias3, q3, kT, /*beta=*/1, /*alpha=*/scale);
  } else {
    scores = at::bmm(q3, kT).mul_(scale);
  }
  at::Tensor probs = at::softmax(scores, -1);
  return at::bmm(probs, v.reshape({B * H, Tk, D})).view({B, H, Tq, D});
}

// Rotary embedding (rotate_half) of x [.., T, D] by cos, sin broadcastable to [.., T, D/2].
// split (not narrow) so that the backward is one cat, not a zero-filled buffer per half.
static at::Tensor Rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  auto halves = x.split(x.size(-1) / 2, -1);
  const at::Tensor& x1 = halves[0];
  const at::Tensor& x2 = halves[1];
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

// RMSNorm over the last dim of contiguous float32 x as one pass forward and one backward
// (the op-by-op form runs 6 kernels forward and about 10 backward over the activations):
//   y = x * r * w,  r = 1 / sqrt(mean(x^2) + eps)
//   dx = r * (dy * w) - x * r^3 * mean(dy * w * x),  dw = sum over rows of dy * x * r
struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            double eps) {
    int64_t D = x.size(-1), N = x.numel() / D;
    at::Tensor y = at::empty_like(x);
    at::Tensor rstd = at::empty({N}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    const float e = static_cast<float>(eps);
    at::parallel_for(0, N, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* xr = xp + r * D;
        float* yr = yp + r * D;
        float ss = 0;
        for (int64_t d = 0; d < D; d++) ss += xr[d] * xr[d];
        float rs = 1.0f / std::sqrt(ss / static_cast<float>(D) + e);
        rp[r] = rs;
        for (int64_t d = 0; d < D; d++) yr[d] = xr[d] * rs * wp[d];
      }
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& rstd = saved[2];
    at::Tensor dy = grads[0].contiguous();
    int64_t D = x.size(-1), N = x.numel() / D;
    at::Tensor dx = at::empty_like(x);
    int threads = at::get_num_threads();
    at::Tensor dwParts = at::zeros({threads, D}, x.options());  // per-thread partial sums of dw
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const float* gp = dy.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* dwp = dwParts.data_ptr<float>();
    at::parallel_for(0, N, 16, [&](int64_t begin, int64_t end) {
      float* dwr = dwp + at::get_thread_num() * D;
      for (int64_t r = begin; r < end; r++) {
        const float* xr = xp + r * D;
        const float* gr = gp + r * D;
        float* dxr = dxp + r * D;
        float rs = rp[r];
        float dot = 0;
        for (int64_t d = 0; d < D; d++) dot += gr[d] * wp[d] * xr[d];
        float c = rs * rs * rs * dot / static_cast<float>(D);
        for (int64_t d = 0; d < D; d++) {
          dxr[d] = rs * gr[d] * wp[d] - xr[d] * c;
          dwr[d] += gr[d] * xr[d] * rs;
        }
      }
    });
    at::Tensor dw = threads == 1 ? dwParts.view({D}) : dwParts.sum(0);
    return {dx, dw.view(w.sizes()), at::Tensor()};
  }
};

// rmsNorm(x [.., D], weight [D], eps) = x / sqrt(mean(x^2) + eps) * weight: the fused kernel for
// contiguous float32 CPU tensors, the op-by-op composition otherwise (float64 gradchecks).
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps) {
  bool fast = x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.is_contiguous() &&
              w.is_contiguous() && x.device().is_cpu() && w.dim() == 1 && x.dim() >= 1 && w.size(0) == x.size(-1) &&
              x.numel() > 0;
  if (!fast) return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
  return RmsNormFunction::apply(x, w, eps);
}

// The new keys or values [B, H, T, D] written at columns [length, length + T) of a cache buffer
// [B, H, capacity, D] whose first `length` columns hold the past: in place when it has room, else
// into a buffer grown geometrically (x1.5, at least the need) holding a copy of the past. Returns
// the buffer written (the same storage, or the grown one). Inference only: the write is in place.
static at::Tensor WriteIntoCache(const at::Tensor& buffer, int64_t length, const at::Tensor& fresh) {
  TORCH_CHECK(buffer.dim() == 4 && fresh.dim() == 4 && buffer.size(0) == fresh.size(0) &&
                  buffer.size(1) == fresh.size(1) && buffer.size(3) == fresh.size(3),
              "the cache buffer ", buffer.sizes(), " does not fit keys or values ", fresh.sizes());
  TORCH_CHECK(length >= 0 && length <= buffer.size(2), "pastLength ", length, " outside the cache's ",
              buffer.size(2), " columns");
  int64_t need = length + fresh.size(2);
  at::Tensor out = buffer;
  if (need > buffer.size(2)) {
    int64_t capacity = std::max(need, buffer.size(2) + std::max<int64_t>(buffer.size(2) / 2, 16));
    out = at::empty({buffer.size(0), buffer.size(1), capacity, buffer.size(3)}, buffer.options());
    out.narrow(2, 0, length).copy_(buffer.narrow(2, 0, length));
  }
  out.narrow(2, length, fresh.size(2)).copy_(fresh);
  return out;
}

// attentionBlock(x [B, T, C], cache|null, [wq, wk, wv] (or [wqkv]), [bq, bk, bv]|null, wo, bo|null,
//                cos|null, sin|null, pastK|null, pastV|null, mask|null, heads, pastLength|null)
//   -> [out, k, v]
// The whole self-attention of a block in one call: one QKV GEMM, rotary on q and k together,
// the KV cache appended, scaled-dot-product attention, the output projection.
// Without pastLength, k and v are the updated cache [B, H, T_past + T, D], new tensors (past and
// new concatenated). With pastLength (inference only: refused while grad mode is on), pastK and
// pastV are buffers [B, H, capacity, D] whose first pastLength columns are the past: the new keys
// and values are written in place after them (WriteIntoCache), attention reads the first
// pastLength + T columns, and k and v are the buffers (the same storage, or grown ones): a
// decode step then costs O(B T) in cache writes instead of copying the whole past. The caller
// gives up the input buffers (another holder of them would see columns past its length change).
SS_FN(attentionBlock) {
  at::Tensor& x = T(0);
  WeightCache* cache = OptionalCache(info, 1).value_or(nullptr);
  at::Tensor w = Fused(cache, 0, UnwrapList(info, 2));
  auto biasList = OptionalList(info, 3);
  c10::optional<at::Tensor> b;
  if (biasList) b = Fused(cache, 1, *biasList);
  at::Tensor& wo = T(4);
  auto bo = OptionalTensor(info, 5);
  auto cos = OptionalTensor(info, 6);
  auto sin = OptionalTensor(info, 7);
  auto pastK = OptionalTensor(info, 8);
  auto pastV = OptionalTensor(info, 9);
  auto mask = OptionalTensor(info, 10);
  int64_t H = Int(info, 11);
  TORCH_CHECK(x.dim() == 3, "x must be [B, T, C], got ", x.sizes());
  int64_t B = x.size(0), Tn = x.size(1), C = wo.size(0);
  TORCH_CHECK(w.size(0) == 3 * C && C % H == 0, "the QKV weights must be 3 x [", C, ", in] for ", H, " heads");
  int64_t D = C / H;
  at::Tensor qkv = at::linear(x, w, b).view({B, Tn, 3, H, D}).permute({2, 0, 3, 1, 4});  // (3, B, H, T, D)
  auto parts = qkv.split_with_sizes({2, 1}, 0);
  at::Tensor qk = parts[0];  // (2, B, H, T, D)
  at::Tensor v = parts[1].squeeze(0);  // (B, H, T, D)
  if (cos && sin) qk = Rotary(qk, *cos, *sin);  // cos (B|1, 1, T, D/2) broadcasts over (2, B, H, T, D/2)
  auto qkParts = qk.unbind(0);
  at::Tensor q = qkParts[0];
  at::Tensor k = qkParts[1];
  bool inPlace = info.Length() > 12 && !info[12].IsNull() && !info[12].IsUndefined();
  if (inPlace) {
    TORCH_CHECK(!c10::GradMode::is_enabled(),
                "pastLength (writing into the KV cache in place) is inference only: run it without grad");
    TORCH_CHECK(pastK && pastV, "pastLength needs pastK and pastV buffers");
    int64_t length = Int(info, 12);
    at::Tensor kBuf = WriteIntoCache(*pastK, length, k);
    at::Tensor vBuf = WriteIntoCache(*pastV, length, v);
    int64_t all = length + Tn;
    // (B, H, all, D) views with the buffers' strides: B and H still merge into one batch dim.
    at::Tensor y = ScaledAttention(q, kBuf.narrow(2, 0, all), vBuf.narrow(2, 0, all), mask)
                       .transpose(1, 2)
                       .reshape({B, Tn, C});  // (B, T, C)
    return WrapList(info.Env(), {at::linear(y, wo, bo), kBuf, vBuf});
  }
  if (pastK && pastV) {
    k = at::cat({*pastK, k}, 2);
    v = at::cat({*pastV, v}, 2);
  } else {
    k = k.contiguous();
    v = v.contiguous();
  }
  at::Tensor y = ScaledAttention(q, k, v, mask).transpose(1, 2).reshape({B, Tn, C});  // (B, T, C)
  return WrapList(info.Env(), {at::linear(y, wo, bo), k, v});
}

// swigluFused(x, cache|null, [wGate, wUp] (or [wGateUp]), wDown) = down(silu(gate(x)) * up(x)),
// gate and up as one GEMM; split (not narrow) so that the backward is one cat.
SS_FN(swigluFused) {
  at::Tensor& x = T(0);
  WeightCache* cache = OptionalCache(info, 1).value_or(nullptr);
  at::Tensor w = Fused(cache, 0, UnwrapList(info, 2));
  at::Tensor& down = T(3);
  auto gu = at::linear(x, w).split(w.size(0) / 2, -1);
  return Wrap(info.Env(), at::linear(at::silu(gu[0]) * gu[1], down));
}

void RegisterFusedOps(Napi::Env env, Napi::Object exports) {
  SS_EXPORT(exports, newWeightCache);
  SS_EXPORT(exports, disposeWeightCache);
  SS_EXPORT(exports, tensorVersion);
  SS_EXPORT(exports, attentionBlock);
  SS_EXPORT(exports, swigluFused);
}

}  // namespace selfsynth
