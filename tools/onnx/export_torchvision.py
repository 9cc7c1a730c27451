#!/usr/bin/python3
"""Exports torchvision resnet18, mobilenet_v2 and squeezenet1_1 (random weights, weights=None) to ONNX opset 13, and a
transformer encoder (torch.nn.TransformerEncoder: 6 layers, d_model 512, 8 heads, feed-forward 2048, GELU, batch_first;
input `embeddings` [batch, seq, 512] with dynamic batch and sequence axes) at opset 17.

Usage: /usr/bin/python3 tools/onnx/export_torchvision.py [CACHE_DIR]   (default: $XDG_CACHE_HOME/tessera/onnx or ~/.cache/tessera/onnx)
Needs Debian's python3-torch and python3-torchvision. Models are written as CACHE_DIR/<name>.onnx; each is exported
with a dynamic batch axis so one file serves batch 1 and 32. Seeded, so reruns give the same weights.
"""
import os
import sys

import torch
import torchvision

MODELS = ["resnet18", "mobilenet_v2", "squeezenet1_1", "transformer_encoder"]


def build(name, batch=1, seq=128):
    """(model in eval mode, example input) for NAME, seeded so every caller gets the same weights."""
    torch.manual_seed(0)
    if name == "transformer_encoder":
        layer = torch.nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, dropout=0.0,
                                                 activation="gelu", batch_first=True)
        model = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False).eval()
        # TransformerEncoder deep-copies one layer: give each its own weights, as a trained model has (the exporter
        # would otherwise store one copy and the benchmark would stream a sixth of the weights).
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    torch.nn.init.xavier_uniform_(p)
        return model, torch.randn(batch, seq, 512)
    return getattr(torchvision.models, name)(weights=None).eval(), torch.randn(batch, 3, 224, 224)


def export(name, path):
    model, x = build(name)
    if name == "transformer_encoder":
        names, axes, opset = (["embeddings"], ["hidden"]), {0: "batch", 1: "seq"}, 17
    else:
        names, axes, opset = (["input"], ["logits"]), {0: "batch"}, 13
    torch.onnx.export(model, x, path, opset_version=opset, input_names=names[0], output_names=names[1],
                      dynamic_axes={names[0][0]: axes, names[1][0]: axes}, do_constant_folding=True)


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
        export(name, path)
        print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
