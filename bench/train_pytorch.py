"""PyTorch 1.13 peer for `Tessera.Bench train`: the same Fashion-MNIST networks, Adam(lr=1e-3), same batch size,
torch.set_num_threads(2); one warm-up pass over 40 batches, then timed epochs over the 60 000 training images.
Run with Debian's python: /usr/bin/python3 bench/train_pytorch.py mlp|cnn BATCH [EPOCHS] [DIR]"""
import gzip, json, os, resource, sys, time
import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(2)
kind = sys.argv[1] if len(sys.argv) > 1 else "mlp"
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
d = sys.argv[4] if len(sys.argv) > 4 else "/usr/share/datasets/fashion-mnist"

def idx(name):
    with gzip.open(os.path.join(d, name + ".gz"), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)

x = torch.tensor(idx("train-images-idx3-ubyte"), dtype=torch.float32) / 255.0
y = torch.tensor(idx("train-labels-idx1-ubyte"), dtype=torch.int64)
xt = torch.tensor(idx("t10k-images-idx3-ubyte"), dtype=torch.float32) / 255.0
yt = torch.tensor(idx("t10k-labels-idx1-ubyte"), dtype=torch.int64)
if kind == "cnn":
    x, xt = x.unsqueeze(1), xt.unsqueeze(1)
else:
    x, xt = x.reshape(-1, 784), xt.reshape(-1, 784)

def make():
    torch.manual_seed(1)
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))

def epoch(model, opt, n):
    perm = torch.randperm(n)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(0, n, batch):
        idxs = perm[i:i + batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idxs]), y[idxs])
        loss.backward()
        opt.step()

model = make(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
epoch(model, opt, batch * 40)
model = make(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
t0 = time.perf_counter()
for _ in range(epochs):
    epoch(model, opt, x.shape[0])
secs = (time.perf_counter() - t0) / epochs
with torch.no_grad():
    acc = (model(xt).argmax(1) == yt).float().mean().item()
print(json.dumps({"impl": "pytorch", "model": kind, "batch": batch, "epochs": epochs, "epoch_seconds": round(secs, 3),
                  "samples_per_second": round(x.shape[0] / secs, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
                  "test_accuracy": round(acc, 4)}))
