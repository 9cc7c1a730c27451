"""Writes the small Fashion-MNIST slice the test suite uses (tests/fixtures/fashion-mnist-slice): the first
N_TRAIN training and N_TEST test images of Debian's dataset-fashion-mnist, in the same gzip'd IDX format.
Run: python3 tools/data/make_fashion_mnist_slice.py [SOURCE_DIR]"""
import gzip, os, struct, sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
DST = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "fashion-mnist-slice")
N_TRAIN, N_TEST = 2000, 500

def slice_idx(name, n):
    with gzip.open(os.path.join(SRC, name + ".gz"), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = list(struct.unpack(">" + "i" * rank, data[4:4 + 4 * rank]))
    per = 1
    for d in dims[1:]:
        per *= d
    dims[0] = n
    out = data[:4] + struct.pack(">" + "i" * rank, *dims) + data[4 + 4 * rank: 4 + 4 * rank + n * per]
    os.makedirs(DST, exist_ok=True)
    # mtime=0 keeps the output byte-identical across runs
    with gzip.GzipFile(os.path.join(DST, name + ".gz"), "wb", mtime=0) as f:
        f.write(out)

slice_idx("train-images-idx3-ubyte", N_TRAIN)
slice_idx("train-labels-idx1-ubyte", N_TRAIN)
slice_idx("t10k-images-idx3-ubyte", N_TEST)
slice_idx("t10k-labels-idx1-ubyte", N_TEST)
