// Tensor ops exported to JavaScript. Each is a thin call into ATen (which records autograd
// when an input requires grad); argument checks that libtorch does not make happen in
// src/engine/ before the call. Fused ops at the bottom exist for speed: each replaces several
// boundary crossings on the model's hot path with one, and is checked against its unfused form.
#include <ATen/ATen.h>

#include <cmath>

#include "common.h"

namespace selfsynth {

#define T(i) Unwrap(info, i)
#define RET(expr) return Wrap(info.Env(), (expr))

static at::TensorOptions Opts(const Napi::CallbackInfo& info, size_t index) {
  return at::TensorOptions().dtype(DType(info, index));
}

// --- factories --------------------------------------------------------------------------
SS_FN(zeros) { RET(at::zeros(IntList(info, 0), Opts(info, 1))); }
SS_FN(ones) { RET(at::ones(IntList(info, 0), Opts(info, 1))); }
SS_FN(full) { RET(at::full(IntList(info, 0), Number(info, 1), Opts(info, 2))); }
SS_FN(arange) { RET(at::arange(Number(info, 0), Number(info, 1), Number(info, 2), Opts(info, 3))); }
SS_FN(randn) { RET(at::randn(IntList(info, 0), UnwrapGenerator(info, 1), Opts(info, 2))); }
SS_FN(rand) { RET(at::rand(IntList(info, 0), UnwrapGenerator(info, 1), Opts(info, 2))); }
// multinomial(probs [.., K], numSamples, replacement, generator)
SS_FN(multinomial) { RET(at::multinomial(T(0), Int(info, 1), Bool(info, 2), UnwrapGenerator(info, 3))); }
SS_FN(bernoulli) { RET(at::bernoulli(T(0), UnwrapGenerator(info, 1))); }

// --- views, indexing and layout ---------------------------------------------------------------
SS_FN(reshape) { RET(T(0).reshape(IntList(info, 1))); }
SS_FN(transpose) { RET(T(0).transpose(Int(info, 1), Int(info, 2))); }
SS_FN(permute) { RET(T(0).permute(IntList(info, 1))); }
SS_FN(slice) { RET(T(0).slice(Int(info, 1), Int(info, 2), Int(info, 3), Int(info, 4))); }
SS_FN(select) { RET(T(0).select(Int(info, 1), Int(info, 2))); }
SS_FN(unsqueeze) { RET(T(0).unsqueeze(Int(info, 1))); }
SS_FN(squeeze) { RET(T(0).squeeze(Int(info, 1))); }
SS_FN(expand) { RET(T(0).expand(IntList(info, 1))); }
SS_FN(contiguous) { RET(T(0).contiguous()); }
SS_FN(clone) { RET(T(0).clone()); }
SS_FN(detach) { RET(T(0).detach()); }
SS_FN(toDtype) { RET(T(0).to(DType(info, 1))); }
SS_FN(cat) { RET(at::cat(UnwrapList(info, 0), Int(info, 1))); }
SS_FN(stack) { RET(at::stack(UnwrapList(info, 0), Int(info, 1))); }
SS_FN(indexSelect) { RET(at::index_select(T(0), Int(info, 1), T(2))); }
SS_FN(gather) { RET(at::gather(T(0), Int(info, 1), T(2))); }
SS_FN(maskedFill) { RET(at::masked_fill(T(0), T(1), Number(info, 2))); }
SS_FN(where) { RET(at::where(T(0), T(1), T(2))); }
SS_FN(triu) { RET(at::triu(T(0), Int(info, 1))); }
SS_FN(tril) { RET(at::tril(T(0), Int(info, 1))); }
SS_FN(repeatInterleave) { RET(at::repeat_interleave(T(0), Int(info, 1), Int(info, 2))); }
SS_FN(flip) { RET(at::flip(T(0), IntList(info, 1))); }

// --- elementwise ----------------------------------------------------------------------------
SS_FN(add) { RET(at::add(T(0), T(1))); }
SS_FN(sub) { RET(at::sub(T(0), T(1))); }
SS_FN(mul) { RET(at::mul(T(0), T(1))); }
SS_FN(div) { RET(at::div(T(0), T(1))); }
SS_FN(maximum) { RET(at::maximum(T(0), T(1))); }
SS_FN(minimum) { RET(at::minimum(T(0), T(1))); }
// A JavaScript number arrives as a double; an integral value on an integer tensor is passed as an
// integer so that the result keeps the tensor's dtype (int64 - 1 stays int64, as in PyTorch).
static at::Scalar ScalarFor(const at::Tensor& t, double value) {
  if (at::isIntegralType(t.scalar_type(), /*includeBool=*/false) && std::nearbyint(value) == value &&
      std::abs(value) < 9.007199254740992e15) {
    return at::Scalar(static_cast<int64_t>(value));
  }
  return at::Scalar(value);
}
SS_FN(addScalar) { RET(at::add(T(0), ScalarFor(T(0), Number(info, 1)))); }
SS_FN(mulScalar) { RET(at::mul(T(0), ScalarFor(T(0), Number(info, 1)))); }
SS_FN(powScalar) { RET(at::pow(T(0), ScalarFor(T(0), Number(info, 1)))); }
SS_FN(rsubScalar) { RET(at::rsub(T(0), ScalarFor(T(0), Number(info, 1)))); }
SS_FN(neg) { RET(at::neg(T(0))); }
SS_FN(exp) { RET(at::exp(T(0))); }
SS_FN(log) { RET(at::log(T(0))); }
SS_FN(tanh) { RET(at::tanh(T(0))); }
SS_FN(sigmoid) { RET(at::sigmoid(T(0))); }
SS_FN(logSigmoid) { RET(at::log_sigmoid(T(0))); }
SS_FN(relu) { RET(at::relu(T(0))); }
SS_FN(gelu) { RET(at::gelu(T(0), Bool(info, 1) ? "tanh" : "none")); }
SS_FN(silu) { RET(at::silu(T(0))); }
SS_FN(sqrt) { RET(at::sqrt(T(0))); }
SS_FN(rsqrt) { RET(at::rsqrt(T(0))); }
SS_FN(abs) { RET(at::abs(T(0))); }
SS_FN(sin) { RET(at::sin(T(0))); }
SS_FN(cos) { RET(at::cos(T(0))); }
// clamp(t, min|null, max|null)
SS_FN(clamp) {
  c10::optional<at::Scalar> lo, hi;
  if (info[1].IsNumber()) lo = Number(info, 1);
  if (info[2].IsNumber()) hi = Number(info, 2);
  RET(at::clamp(T(0), lo, hi));
}
SS_FN(isFinite) { RET(at::isfinite(T(0))); }

// comparisons (bool results; the second operand is a tensor or a number)
#define SS_COMPARE(name, fn)                                                   \
  SS_FN(name) {                                                                \
    if (info[1].IsNumber()) RET(at::fn(T(0), at::Scalar(Number(info, 1))));    \
    RET(at::fn(T(0), T(1)));                                                   \
  }
SS_COMPARE(eq, eq)
SS_COMPARE(ne, ne)
SS_COMPARE(lt, lt)
SS_COMPARE(le, le)
SS_COMPARE(gt, gt)
SS_COMPARE(ge, ge)
SS_FN(logicalAnd) { RET(at::logical_and(T(0), T(1))); }
SS_FN(logicalOr) { RET(at::logical_or(T(0), T(1))); }
SS_FN(logicalNot) { RET(at::logical_not(T(0))); }

// --- linear algebra -------------------------------------------------------------------------
SS_FN(matmul) { RET(at::matmul(T(0), T(1))); }
SS_FN(bmm) { RET(at::bmm(T(0), T(1))); }
// linear(x, weight [out, in], bias|null) = x @ weight^T + bias
SS_FN(linear) { RET(at::linear(T(0), T(1), OptionalTensor(info, 2))); }
// conv2d(x [B, Cin, H, W], weight [Cout, Cin, k, k], bias|null, stride, padding): the vision
// encoder's convolutional stem (libtorch's kernel and autograd).
SS_FN(conv2d) {
  int64_t stride = Int(info, 3), padding = Int(info, 4);
  RET(at::conv2d(T(0), T(1), OptionalTensor(info, 2), {stride, stride}, {padding, padding}));
}

// --- reductions -----------------------------------------------------------------------------
// sum/mean(t, dims|null, keepdim): null dims reduce everything.
SS_FN(sum) {
  if (info[1].IsArray()) RET(at::sum(T(0), IntList(info, 1), Bool(info, 2)));
  RET(at::sum(T(0)));
}
SS_FN(mean) {
  if (info[1].IsArray()) RET(at::mean(T(0), IntList(info, 1), Bool(info, 2)));
  RET(at::mean(T(0)));
}
SS_FN(maxAll) { RET(at::max(T(0))); }
// max(t, dim, keepdim) -> [values, indices]
SS_FN(max) {
  auto r = at::max(T(0), Int(info, 1), Bool(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
SS_FN(min) {
  auto r = at::min(T(0), Int(info, 1), Bool(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
SS_FN(argmax) { RET(at::argmax(T(0), Int(info, 1), Bool(info, 2))); }
// topk(t, k, dim) -> [values, indices], largest first
SS_FN(topk) {
  auto r = at::topk(T(0), Int(info, 1), Int(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
// sort(t, dim, descending) -> [values, indices]
SS_FN(sort) {
  auto r = at::sort(T(0), Int(info, 1), Bool(info, 2));
  return WrapList(info.Env(), {std::get<0>(r), std::get<1>(r)});
}
SS_FN(cumsum) { RET(at::cumsum(T(0), Int(info, 1))); }
SS_FN(logsumexp) { RET(at::logsumexp(T(0), IntList(info, 1), Bool(info, 2))); }

// --- neural-network ops -----------------------------------------------------------------------
SS_FN(softmax) { RET(at::softmax(T(0), Int(info, 1))); }
SS_FN(logSoftmax) { RET(at::log_softmax(T(0), Int(info, 1))); }
// layerNorm(x, normalizedShape, weight|null, bias|null, eps)
SS_FN(layerNorm) {
  RET(at::layer_norm(T(0), IntList(info, 1), OptionalTensor(info, 2), OptionalTensor(info, 3), Number(info, 4)));
}
// embedding(weight [V, D], ids int64)
SS_FN(embedding) { RET(at::embedding(T(0), T(1))); }
// crossEntropy(logits [N, C], targets [N] int64, ignoreIndex, reduction: "mean" | "sum" | "none")
SS_FN(crossEntropy) {
  std::string reduction = String(info, 3);
  int64_t r = reduction == "mean" ? at::Reduction::Mean : reduction == "sum" ? at::Reduction::Sum : at::Reduction::None;
  if (reduction != "mean" && reduction != "sum" && reduction != "none") {
    throw Napi::TypeError::New(info.Env(), "reduction must be mean, sum or none");
  }
  RET(at::cross_entropy_loss(T(0), T(1), {}, r, Int(info, 2)));
}
// dropout(x, p, generator): inverted dropout with a seeded mask, so that runs are reproducible.
SS_FN(dropout) {
  double p = Number(info, 1);
  at::Tensor& x = T(0);
  if (p <= 0) RET(x.alias());
  at::Tensor keep = at::bernoulli(at::full_like(x, 1.0 - p, x.options().requires_grad(false)), UnwrapGenerator(info, 2));
  RET(x * keep / (1.0 - p));
}

// --- fused ops (hot path) ---------------------------------------------------------------------
// rmsNorm(x [.., D], weight [D], eps) = x / sqrt(mean(x^2) + eps) * weight
SS_FN(rmsNorm) { RET(RmsNorm(T(0), T(1), Number(info, 2))); }
// rotary(x [B, H, T, D], cos [B|1, 1, T, D/2], sin): rotates channel pairs (i, i + D/2), as in
// GPT-NeoX and Llama ("rotate_half").
SS_FN(rotary) {
  at::Tensor& x = T(0);
  at::Tensor& cos = T(1);
  at::Tensor& sin = T(2);
  int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  RET(at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1));
}
// attention(q [B, H, Tq, D], k [B, H, Tk, D], v, mask [B|1, 1, Tq, Tk] bool (true = may attend)
// or float additive bias | null): one baddbmm for the scaled, masked scores (fused_ops.cc).
SS_FN(attention) { RET(ScaledAttention(T(0), T(1), T(2), OptionalTensor(info, 3))); }
// swiglu(x, wGate, wUp, wDown) = down(silu(gate(x)) * up(x)), all bias-free linears.
SS_FN(swiglu) {
  at::Tensor& x = T(0);
  RET(at::linear(at::silu(at::linear(x, T(1))) * at::linear(x, T(2)), T(3)));
}

void RegisterOps(Napi::Env env, Napi::Object exports) {
  SS_EXPORT(exports, zeros);
  SS_EXPORT(exports, ones);
  SS_EXPORT(exports, full);
  SS_EXPORT(exports, arange);
  SS_EXPORT(exports, randn);
  SS_EXPORT(exports, rand);
  SS_EXPORT(exports, multinomial);
  SS_EXPORT(exports, bernoulli);
  SS_EXPORT(exports, reshape);
  SS_EXPORT(exports, transpose);
  SS_EXPORT(exports, permute);
  SS_EXPORT(exports, slice);
  SS_EXPORT(exports, select);
  SS_EXPORT(exports, unsqueeze);
  SS_EXPORT(exports, squeeze);
  SS_EXPORT(exports, expand);
  SS_EXPORT(exports, contiguous);
  SS_EXPORT(exports, clone);
  SS_EXPORT(exports, detach);
  SS_EXPORT(exports, toDtype);
  SS_EXPORT(exports, cat);
  SS_EXPORT(exports, stack);
  SS_EXPORT(exports, indexSelect);
  SS_EXPORT(exports, gather);
  SS_EXPORT(exports, maskedFill);
  SS_EXPORT(exports, where);
  SS_EXPORT(exports, triu);
  SS_EXPORT(exports, tril);
  SS_EXPORT(exports, repeatInterleave);
  SS_EXPORT(exports, flip);
  SS_EXPORT(exports, add);
  SS_EXPORT(exports, sub);
  SS_EXPORT(exports, mul);
  SS_EXPORT(exports, div);
  SS_EXPORT(exports, maximum);
  SS_EXPORT(exports, minimum);
  SS_EXPORT(exports, addScalar);
  SS_EXPORT(exports, mulScalar);
  SS_EXPORT(exports, powScalar);
  SS_EXPORT(exports, rsubScalar);
  SS_EXPORT(exports, neg);
  SS_EXPORT(exports, exp);
  SS_EXPORT(exports, log);
  SS_EXPORT(exports, tanh);
  SS_EXPORT(exports, sigmoid);
  SS_EXPORT(exports, logSigmoid);
  SS_EXPORT(exports, relu);
  SS_EXPORT(exports, gelu);
  SS_EXPORT(exports, silu);
  SS_EXPORT(exports, sqrt);
  SS_EXPORT(exports, rsqrt);
  SS_EXPORT(exports, abs);
  SS_EXPORT(exports, sin);
  SS_EXPORT(exports, cos);
  SS_EXPORT(exports, clamp);
  SS_EXPORT(exports, isFinite);
  SS_EXPORT(exports, eq);
  SS_EXPORT(exports, ne);
  SS_EXPORT(exports, lt);
  SS_EXPORT(exports, le);
  SS_EXPORT(exports, gt);
  SS_EXPORT(exports, ge);
  SS_EXPORT(exports, logicalAnd);
  SS_EXPORT(exports, logicalOr);
  SS_EXPORT(exports, logicalNot);
  SS_EXPORT(exports, matmul);
  SS_EXPORT(exports, bmm);
  SS_EXPORT(exports, linear);
  SS_EXPORT(exports, conv2d);
  SS_EXPORT(exports, sum);
  SS_EXPORT(exports, mean);
  SS_EXPORT(exports, maxAll);
  SS_EXPORT(exports, max);
  SS_EXPORT(exports, min);
  SS_EXPORT(exports, argmax);
  SS_EXPORT(exports, topk);
  SS_EXPORT(exports, sort);
  SS_EXPORT(exports, cumsum);
  SS_EXPORT(exports, logsumexp);
  SS_EXPORT(exports, softmax);
  SS_EXPORT(exports, logSoftmax);
  SS_EXPORT(exports, layerNorm);
  SS_EXPORT(exports, embedding);
  SS_EXPORT(exports, crossEntropy);
  SS_EXPORT(exports, dropout);
  SS_EXPORT(exports, rmsNorm);
  SS_EXPORT(exports, rotary);
  SS_EXPORT(exports, attention);
  SS_EXPORT(exports, swiglu);
}

}  // namespace selfsynth
