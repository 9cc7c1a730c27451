#!/usr/bin/python3
"""Exports more torchvision architectures (random weights, seeded) to ONNX opset 17 for bench/onnx_zoo.sh.

Usage: /usr/bin/python3 tools/onnx/export_zoo.py CACHE_DIR NAME...
Each model gets a dynamic batch axis, input `input` (batch, 3, 224, 224) (299 for inception_v3), output `logits`.
Existing files are kept. Needs Debian's python3-torch and python3-torchvision (0.14).
"""
import os
import sys

import torch
import torchvision


def main():
    out, names = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name in names:
        path = os.path.join(out, name + ".onnx")
        if os.path.exists(path):
            print(f"{path} exists")
            continue
        torch.manual_seed(0)
        extra = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
        model = getattr(torchvision.models, name)(weights=None, **extra).eval()
        size = 299 if name == "inception_v3" else 224
        torch.onnx.export(model, torch.randn(1, 3, size, size), path, opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
