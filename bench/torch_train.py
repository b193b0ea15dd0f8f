#!/usr/bin/env python3
"""The peer of bench_train: the same model (the dropout MLP, or with --model cnn the sample's CNN), batch
and threads in PyTorch on the CPU, or with --device cuda on the GPU (bench_train asks for it when vkdrop runs
on a GPU).

Prints one JSON line: {"samples_per_s": ..., "threads": ..., "blas": ..., "torch": ...}.
The data is a preloaded float tensor of MNIST's size, so data loading costs PyTorch nothing, as the
device-resident data set costs vkdrop nothing.
"""
import argparse
import ctypes
import json
import os
import time

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    ap.add_argument("--hidden", default="1024,1024,1024")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-norm", type=float, default=3.5)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this PyTorch sees no CUDA device")
    dev = torch.device(args.device)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cnn = args.model == "cnn"
    if cnn:  # samples/mnist_mlp --model cnn: two Conv-BN-ReLU-Dropout2d-MaxPool blocks, then 256 with dropout
        layers, channels = [], 1
        for c in (32, 64):
            layers += [nn.Conv2d(channels, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU(), nn.Dropout2d(0.1), nn.MaxPool2d(2)]
            channels = c
        layers += [nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)]
    else:
        layers, width = [nn.Dropout(0.2)], 784
        for h in [int(x) for x in args.hidden.split(",")]:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(0.5)]
            width = h
        layers.append(nn.Linear(width, 10))
    net = nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.95)
    loss_fn = nn.CrossEntropyLoss()
    x_all = (torch.rand(60000, 1, 28, 28) if cnn else torch.rand(60000, 784)).to(dev)
    y_all = torch.randint(0, 10, (60000,)).to(dev)
    order = torch.randperm(60000).to(dev)

    def step(i):
        idx = order[(i * args.batch) % (60000 - args.batch):][: args.batch]
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        if args.max_norm > 0:  # Srivastava et al.: cap each unit's incoming weight norm
            with torch.no_grad():
                for m in net:
                    if isinstance(m, (nn.Linear, nn.Conv2d)):  # rows; each output channel's filter
                        m.weight.copy_(torch.renorm(m.weight, 2, 0, args.max_norm))
        return loss

    net.train()
    for i in range(args.warmup):
        step(i)
    if args.device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(args.warmup + i)
    loss.item()  # waits for the device
    seconds = time.perf_counter() - start
    # Debian's torch calls whichever libblas.so.3 the alternatives system points at; OpenBLAS says which
    # kernels it chose (OPENBLAS_CORETYPE overrides its detection).
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    core = "unknown"
    try:
        lib = ctypes.CDLL(blas)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass
    result = {"samples_per_s": args.steps * args.batch / seconds, "threads": torch.get_num_threads(),
              "blas": blas, "blas_kernels": core, "torch": torch.__version__}
    if args.device == "cuda":
        result["device"] = torch.cuda.get_device_name()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
