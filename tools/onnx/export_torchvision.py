#!/usr/bin/python3
"""Exports torchvision resnet18, mobilenet_v2 and squeezenet1_1 (random weights, weights=None) to ONNX opset 13.

Usage: /usr/bin/python3 tools/onnx/export_torchvision.py [CACHE_DIR]   (default: $XDG_CACHE_HOME/tessera/onnx or ~/.cache/tessera/onnx)
Needs Debian's python3-torch and python3-torchvision. Models are written as CACHE_DIR/<name>.onnx; each is exported
with a dynamic batch axis so one file serves batch 1 and 32. Seeded, so reruns give the same weights.
"""
import os
import sys

import torch
import torchvision

MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1"]


def cache_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tessera", "onnx")


def main():
    out = cache_dir()
    os.makedirs(out, exist_ok=True)
    for name in MODELS:
        path = os.path.join(out, name + ".onnx")
        if os.path.exists(path):
            print(f"{path} exists")
            continue
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(1, 3, 224, 224)
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
