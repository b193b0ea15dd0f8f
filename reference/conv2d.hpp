#pragma once
// CPU reference for a 2-D convolution (torch.nn.Conv2d with groups = 1, NCHW): the specification of what
// ops/conv2d records (im2col, a matmul, a layout transpose; col2im as a gather). Plain nested loops, as the
// formula reads. Convention: backward functions WRITE (=) their gradients, they do not accumulate.
//
// The geometry lives here, in namespace vkdrop, because the reference, the ops and the layer all share it.

#include <cstdint>

namespace vkdrop {

// One size per spatial dimension, as PyTorch's _pair: Pair(3) is (3, 3), Pair{3, 5} is (h 3, w 5).
struct Pair {
  int64_t h, w;
  constexpr Pair(int64_t both) : h(both), w(both) {}  // NOLINT: implicit, so Conv2d(1, 32, 3) reads as PyTorch
  constexpr Pair(int64_t h_size, int64_t w_size) : h(h_size), w(w_size) {}
  constexpr bool operator==(const Pair&) const = default;
};

// The window of a convolution, besides the tensors' own sizes: kernel (KH, KW), stride, zero padding on both
// sides, dilation (the spacing of the kernel's taps).
struct Conv2dGeometry {
  Pair kernel;
  Pair stride = 1;
  Pair padding = 0;
  Pair dilation = 1;
};

// The output size along one dimension, as torch.nn.Conv2d documents it:
//   floor((in + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1.
// Less than 1 when the dilated kernel is larger than the padded input (then there is no output). Needs
// stride >= 1 and kernel, dilation >= 1.
constexpr int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  const int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;  // the last window's first tap
  // Floor division: a negative span means no window fits (C++'s / rounds towards zero).
  return (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
}

}  // namespace vkdrop

namespace vkdrop::ref {

// The sizes of one convolution: x (N, C, H, W), weight (OC, C, KH, KW), y (N, OC, OH, OW).
struct Conv2dSizes {
  int N, C, H, W, OC;
  Conv2dGeometry g;
  int OH() const { return int(conv2d_output_size(H, g.kernel.h, g.stride.h, g.padding.h, g.dilation.h)); }
  int OW() const { return int(conv2d_output_size(W, g.kernel.w, g.stride.w, g.padding.w, g.dilation.w)); }
  int KH() const { return int(g.kernel.h); }
  int KW() const { return int(g.kernel.w); }
  // The input row and column under output (oh, ow) and kernel tap (kh, kw); outside [0, H) x [0, W) they
  // lie in the zero padding.
  int ih(int oh, int kh) const { return oh * int(g.stride.h) - int(g.padding.h) + kh * int(g.dilation.h); }
  int iw(int ow, int kw) const { return ow * int(g.stride.w) - int(g.padding.w) + kw * int(g.dilation.w); }
};

// y[n, o, oh, ow] = b[o] + Σ_{c, kh, kw} w[o, c, kh, kw] · x[n, c, ih(oh, kh), iw(ow, kw)], with x = 0 in the
// padding; summed in double, rounded once to T. b may be nullptr (no bias).
// y (N, OC, OH, OW), x (N, C, H, W), w (OC, C, KH, KW), b (OC).
template <typename T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, const Conv2dSizes& s) {
  const int OH = s.OH(), OW = s.OW(), KH = s.KH(), KW = s.KW();
  for (int n = 0; n < s.N; ++n) {
    for (int o = 0; o < s.OC; ++o) {
      for (int oh = 0; oh < OH; ++oh) {
        for (int ow = 0; ow < OW; ++ow) {
          double sum = b != nullptr ? double(b[o]) : 0.0;
          for (int c = 0; c < s.C; ++c) {
            for (int kh = 0; kh < KH; ++kh) {
              const int ih = s.ih(oh, kh);
              if (ih < 0 || ih >= s.H) continue;
              for (int kw = 0; kw < KW; ++kw) {
                const int iw = s.iw(ow, kw);
                if (iw < 0 || iw >= s.W) continue;
                sum += double(w[((o * s.C + c) * KH + kh) * KW + kw]) * double(x[((n * s.C + c) * s.H + ih) * s.W + iw]);
              }
            }
          }
          y[((n * s.OC + o) * OH + oh) * OW + ow] = T(sum);
        }
      }
    }
  }
}

// The three gradients of conv2d_forward for dL/dy = dy; pass nullptr for any not wanted.
//   dx[n, c, h, w]     = Σ over (o, oh, ow, kh, kw) with ih(oh, kh) = h and iw(ow, kw) = w of w[o, c, kh, kw] · dy[n, o, oh, ow]
//   dw[o, c, kh, kw]   = Σ over (n, oh, ow) of dy[n, o, oh, ow] · x[n, c, ih(oh, kh), iw(ow, kw)]
//   db[o]              = Σ over (n, oh, ow) of dy[n, o, oh, ow]
// Each summed in double, rounded once to T.
// dx (N, C, H, W), dw (OC, C, KH, KW), db (OC); dy (N, OC, OH, OW), x (N, C, H, W), w (OC, C, KH, KW).
template <typename T>
void conv2d_backward(T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const Conv2dSizes& s) {
  const int OH = s.OH(), OW = s.OW(), KH = s.KH(), KW = s.KW();
  const auto dy_at = [&](int n, int o, int oh, int ow) { return double(dy[((n * s.OC + o) * OH + oh) * OW + ow]); };
  if (dx != nullptr) {
    // Every input element gathers the kernel taps that read it: a direct transcription of the sum above.
    for (int n = 0; n < s.N; ++n) {
      for (int c = 0; c < s.C; ++c) {
        for (int h = 0; h < s.H; ++h) {
          for (int wi = 0; wi < s.W; ++wi) {
            double sum = 0.0;
            for (int o = 0; o < s.OC; ++o) {
              for (int oh = 0; oh < OH; ++oh) {
                for (int kh = 0; kh < KH; ++kh) {
                  if (s.ih(oh, kh) != h) continue;
                  for (int ow = 0; ow < OW; ++ow) {
                    for (int kw = 0; kw < KW; ++kw) {
                      if (s.iw(ow, kw) != wi) continue;
                      sum += double(w[((o * s.C + c) * KH + kh) * KW + kw]) * dy_at(n, o, oh, ow);
                    }
                  }
                }
              }
            }
            dx[((n * s.C + c) * s.H + h) * s.W + wi] = T(sum);
          }
        }
      }
    }
  }
  if (dw != nullptr) {
    for (int o = 0; o < s.OC; ++o) {
      for (int c = 0; c < s.C; ++c) {
        for (int kh = 0; kh < KH; ++kh) {
          for (int kw = 0; kw < KW; ++kw) {
            double sum = 0.0;
            for (int n = 0; n < s.N; ++n) {
              for (int oh = 0; oh < OH; ++oh) {
                const int ih = s.ih(oh, kh);
                if (ih < 0 || ih >= s.H) continue;
                for (int ow = 0; ow < OW; ++ow) {
                  const int iw = s.iw(ow, kw);
                  if (iw < 0 || iw >= s.W) continue;
                  sum += dy_at(n, o, oh, ow) * double(x[((n * s.C + c) * s.H + ih) * s.W + iw]);
                }
              }
            }
            dw[((o * s.C + c) * KH + kh) * KW + kw] = T(sum);
          }
        }
      }
    }
  }
  if (db != nullptr) {
    for (int o = 0; o < s.OC; ++o) {
      double sum = 0.0;
      for (int n = 0; n < s.N; ++n) {
        for (int oh = 0; oh < OH; ++oh) {
          for (int ow = 0; ow < OW; ++ow) sum += dy_at(n, o, oh, ow);
        }
      }
      db[o] = T(sum);
    }
  }
}

// The two steps ops/conv2d records besides im2col, col2im and the products, as their own specification:
// out[b][a][e] = in[a][b][e] (+ bias[a] unless nullptr): an A x B matrix of blocks of E values transposed.
// out (B, A, E), in (A, B, E), bias (A).
template <typename T>
void block_transpose(T* out, const T* in, const T* bias, int64_t A, int64_t B, int64_t E) {
  for (int64_t a = 0; a < A; ++a) {
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t e = 0; e < E; ++e) {
        const T v = in[(a * B + b) * E + e];
        out[(b * A + a) * E + e] = bias != nullptr ? T(v + bias[a]) : v;
      }
    }
  }
}

// sums[r] = Σ_l m[r][l], summed in double, rounded once. sums (R), m (R, L).
template <typename T>
void row_sum(T* sums, const T* m, int64_t R, int64_t L) {
  for (int64_t r = 0; r < R; ++r) {
    double sum = 0.0;
    for (int64_t l = 0; l < L; ++l) sum += m[r * L + l];
    sums[r] = T(sum);
  }
}

}  // namespace vkdrop::ref
