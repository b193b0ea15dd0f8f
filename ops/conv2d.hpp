#pragma once
// A 2-D convolution (torch.nn.Conv2d with groups = 1, NCHW) as im2col + matmul, forward and backward.
// CPU reference: reference/conv2d.hpp. Shaders: im2col.comp, col2im.comp, block_transpose.comp, row_sum.comp;
// the products are ops::matmul. A kernel of at most 32 taps C·KH·KW (a first layer on 1 or 3 channels) computes
// y directly instead (conv2d_direct.comp), and on a CPU device its weight and bias gradients too, from x and dy
// (conv2d_weight_direct.comp): there forward leaves cols unwritten, and backward uses rows and cols only for dx.
//
// Sizes (x (N, C, H, W), weight (OC, C, KH, KW), y (N, OC, OH, OW), P = N·OH·OW output positions):
//   forward:  cols (P, C·KH·KW) = im2col(x);  rows (OC, P) = W · colsᵀ;  y = rows as NCHW, + b
//   backward: rows (OC, P) = dy as channel-major;  dW = rows · cols;  db = Σ_P rows;
//             dcolsᵀ (C·KH·KW, P) = Wᵀ · rows;  dx = col2im(dcolsᵀ), a gather
// rows is channel-major, (OC, N, OH·OW): NCHW with N and OC swapped, so converting between the two moves whole
// planes of OH·OW values (block_transpose), four at a time when OH·OW is a multiple of four.
// cols and rows are the caller's scratch (a layer declares them): forward leaves cols for the weight gradient
// (not on the direct weight-gradient path above, which reads x instead).
// Backward passes write (=) their gradients.

#include <vkdrop/reference/conv2d.hpp>
#include <vkdrop/runtime/recorder.hpp>
#include <vkdrop/runtime/tensor.hpp>

#include <cstdint>

namespace vkdrop::ops {

// Refuses a geometry no convolution has: kernel, stride or dilation below 1, negative padding (ArgumentError
// starting with `op`).
void check_conv2d_geometry(const char* op, const Conv2dGeometry& g);

// y (N, OC, OH, OW) = conv2d(x (N, C, H, W), weight (OC, C, KH, KW)) + bias (OC) (nullptr: none).
// Also writes cols (N·OH·OW, C·KH·KW), which conv2d_backward needs, and rows (OC, N·OH·OW), the product before
// it is moved to NCHW. Throws ShapeError naming the tensor whose shape does not fit, ArgumentError for a bad
// geometry, an output size below 1 (a kernel larger than the padded input), overlapping tensors or a tensor
// that is not f32.
// partials: scratch for the products' split K, conv2d_partials_elements(...) elements, or nullptr.
void conv2d_forward(Recorder& rec, const Tensor& y, const Tensor& cols, const Tensor& rows, const Tensor& x,
                    const Tensor& weight, const Tensor* bias, const Conv2dGeometry& g, const Tensor* partials = nullptr);

// The gradients for dL/dy = dy (N, OC, OH, OW): dweight (OC, C, KH, KW) always; dx (N, C, H, W) and dbias (OC)
// unless nullptr. x is the forward's input, and cols what conv2d_forward wrote for it; rows (OC, N·OH·OW) is
// scratch. dcols (N·OH·OW, C·KH·KW) is scratch for dx's product, and may be cols itself (the weight gradient is
// recorded before it is overwritten); it is untouched when dx is nullptr.
void conv2d_backward(Recorder& rec, const Tensor* dx, const Tensor& dweight, const Tensor* dbias, const Tensor& dcols,
                     const Tensor& rows, const Tensor& dy, const Tensor& x, const Tensor& cols, const Tensor& weight,
                     const Conv2dGeometry& g, const Tensor* partials = nullptr);

// Elements of the split scratch (the partials of ops::matmul) that the three products of a convolution with
// `positions` = N·OH·OW output positions, `taps` = C·KH·KW and `out_channels` may use; 0 when none splits.
int64_t conv2d_partials_elements(int64_t positions, int64_t taps, int64_t out_channels);

// The steps, for tests and for other layers that want them:
// cols (N·OH·OW, C·KH·KW) = im2col(x (N, C, H, W)) under the geometry g (im2col.comp).
void im2col(Recorder& rec, const Tensor& cols, const Tensor& x, const Conv2dGeometry& g);
// How dcols is stored: as im2col writes cols, (N·OH·OW, C·KH·KW), or transposed, (C·KH·KW, N·OH·OW).
enum class ColsLayout { PositionMajor, TapMajor };
// dx (N, C, H, W) = col2im(dcols (N·OH·OW, C·KH·KW)): each element of dx sums the entries of dcols that im2col
// would have copied it to (col2im.comp), taps in the same order whatever the layout.
void col2im(Recorder& rec, const Tensor& dx, const Tensor& dcols, const Conv2dGeometry& g,
            ColsLayout layout = ColsLayout::PositionMajor);
// out (B, A, E) = in (A, B, E) (+ bias (A) unless nullptr): an A x B matrix of blocks of E values transposed
// (block_transpose.comp).
void block_transpose(Recorder& rec, const Tensor& out, const Tensor& in, const Tensor* bias);
// sums (R) = the sums of the rows of m (R, L), written (=) (row_sum.comp).
void row_sum(Recorder& rec, const Tensor& sums, const Tensor& m);

}  // namespace vkdrop::ops
