#!/usr/bin/env python3
"""The PyTorch-CUDA peer of bench_gemm and bench_dropout, run by them when vkdrop runs on a GPU.

  torch_cuda.py gemm M N K TA TB    fp32 product, TF32 off (vkdrop's matmul is plain fp32), as bench_gemm
                                    lays it out: a (M, K) or its transpose (K, M), b (K, N) or (N, K)
  torch_cuda.py dropout N           device-to-device copy (the card's bandwidth) and dropout's forward, p = 0.5

Each prints one JSON line. Times are CUDA events around `reps` back-to-back calls after a warm-up, the median
of several samples; inputs are uniform in [-1, 1), never zeros.
"""
import json
import sys

import torch


def median_ms(fn, reps, samples=15):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(samples):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / reps)
    times.sort()
    return times[len(times) // 2]


def gemm(m, n, k, trans_a, trans_b):
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    a = torch.rand(k, m, device=dev) * 2 - 1 if trans_a else torch.rand(m, k, device=dev) * 2 - 1
    b = torch.rand(n, k, device=dev) * 2 - 1 if trans_b else torch.rand(k, n, device=dev) * 2 - 1
    c = torch.empty(m, n, device=dev)
    lhs, rhs = (a.t() if trans_a else a), (b.t() if trans_b else b)
    flops = 2.0 * m * n * k
    reps = max(1, min(1000, int(2e-3 / (flops / 2e13))))  # about 2 ms of work per sample
    ms = median_ms(lambda: torch.matmul(lhs, rhs, out=c), reps)
    return {"gflops": flops / (ms * 1e-3) / 1e9, "ms": ms, "tf32": False}


def dropout(n):
    dev = torch.device("cuda")
    x = torch.rand(n, device=dev) * 2 - 1
    y = torch.empty_like(x)
    reps = 20
    copy_ms = median_ms(lambda: y.copy_(x), reps)
    drop_ms = median_ms(lambda: torch.nn.functional.dropout(x, 0.5, training=True), reps)
    gbps = lambda ms: 8.0 * n / (ms * 1e-3) / 1e9  # one f32 read and one written per element
    return {"copy_gbps": gbps(copy_ms), "dropout_gbps": gbps(drop_ms)}


def main():
    if not torch.cuda.is_available():
        raise SystemExit("this PyTorch sees no CUDA device")
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "gemm" and len(sys.argv) == 7:
        m, n, k, ta, tb = (int(v) for v in sys.argv[2:])
        result = gemm(m, n, k, bool(ta), bool(tb))
    elif what == "dropout" and len(sys.argv) == 3:
        result = dropout(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
    result.update({"device": torch.cuda.get_device_name(), "torch": torch.__version__})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
