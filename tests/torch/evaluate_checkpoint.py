#!/usr/bin/env python3
"""Loads a checkpoint of the vkdrop MNIST sample into the matching torch.nn.Sequential and prints its MNIST
test error, so a test can compare it with what vkdrop measured. Exit code 77 when PyTorch is not installed.

    evaluate_checkpoint.py CHECKPOINT DATA_DIR --model cnn --channels 8,16 --hidden 32 --dropout 0.5 ...

The flags are the sample's: they rebuild the same layers in the same order, so the state_dict names
("0.weight", "1.running_mean", ...) match one to one; load_state_dict(strict=True) refuses anything else.
"""
import argparse
import json
import os
import struct
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # the test says it skipped
    print(f"skipped: {e}", file=sys.stderr)
    sys.exit(77)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {t['dtype']}, expected F32")
        begin, end = t["data_offsets"]
        values = np.frombuffer(data[8 + n + begin:8 + n + end], dtype="<f4").copy()
        tensors[name] = torch.from_numpy(values).reshape(t["shape"])
    return tensors


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data[4 + 4 * dims:], dtype=np.uint8).reshape(shape)


def build(a):
    layers = []
    if a.input_dropout > 0:
        layers.append(nn.Dropout(a.input_dropout))
    features = 784
    if a.model == "cnn":
        channels_in, side = 1, 28
        for c in a.channels:
            layers += [nn.Conv2d(channels_in, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU()]
            if a.conv_dropout == "channel" and a.conv_dropout_p > 0:
                layers.append(nn.Dropout2d(a.conv_dropout_p))
            if a.conv_dropout == "element" and a.conv_dropout_p > 0:
                layers.append(nn.Dropout(a.conv_dropout_p))
            layers.append(nn.MaxPool2d(2))
            channels_in, side = c, side // 2
        layers.append(nn.Flatten())
        features = channels_in * side * side
    for h in a.hidden:
        layers += [nn.Linear(features, h), nn.ReLU()]
        if a.dropout > 0:
            layers.append(nn.Dropout(a.dropout))
        features = h
    layers.append(nn.Linear(features, 10))
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("data_dir")
    p.add_argument("--model", default="mlp")
    p.add_argument("--channels", default="32,64")
    p.add_argument("--hidden", default=None)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--input-dropout", type=float, default=None)
    p.add_argument("--conv-dropout", default="channel")
    p.add_argument("--conv-dropout-p", type=float, default=0.1)
    a, _ = p.parse_known_args()  # training-only flags (--epochs, --seed, ...) do not change the layers
    a.channels = [int(c) for c in a.channels.split(",")]
    cnn = a.model == "cnn"
    a.hidden = [int(h) for h in (a.hidden or ("256" if cnn else "1024,1024")).split(",")]
    if a.input_dropout is None:
        a.input_dropout = 0.0 if cnn else 0.2

    net = build(a)
    net.load_state_dict(read_safetensors(a.checkpoint), strict=True)
    net.eval()
    images = read_idx(os.path.join(a.data_dir, "t10k-images-idx3-ubyte")).astype(np.float32) / np.float32(255)
    labels = torch.from_numpy(read_idx(os.path.join(a.data_dir, "t10k-labels-idx1-ubyte")).astype(np.int64))
    x = torch.from_numpy(images).reshape(-1, 1, 28, 28) if cnn else torch.from_numpy(images).reshape(-1, 784)
    with torch.no_grad():
        wrong = sum(int((net(x[i:i + 1000]).argmax(1) != labels[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
    print(f"PyTorch {torch.__version__}: test error: {100.0 * wrong / len(x):.2f}%")


if __name__ == "__main__":
    main()
