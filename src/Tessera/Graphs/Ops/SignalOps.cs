namespace Tessera.Graphs;

/// <summary>Window functions of <see cref="SignalWindowOp"/>.</summary>
public enum SignalWindow { Hann, Hamming, Blackman }

/// <summary>A length-n window (ONNX HannWindow / HammingWindow / BlackmanWindow); periodic windows divide by n, symmetric by n−1.</summary>
public sealed class SignalWindowOp(SignalWindow window, int size, bool periodic, DType dtype) : Operation
{
    public override string Name => window + "Window";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (size < 0 || size > ShapeLimits.MaxDimension) throw new ArgumentException($"{Name}: size {size} is out of range.");
        return new TensorType(dtype, [size]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        double d = periodic ? size : size - 1;
        for (int i = 0; i < size; i++)
        {
            double a = 2 * Math.PI * i / d;
            output.SetDouble(i, window switch
            {
                SignalWindow.Hann => 0.5 - 0.5 * Math.Cos(a),
                SignalWindow.Hamming => 25.0 / 46 - 21.0 / 46 * Math.Cos(a),
                _ => 0.42 - 0.5 * Math.Cos(a) + 0.08 * Math.Cos(2 * a),
            });
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [];
}

/// <summary>Determinant of the last two (square) axes, by LU decomposition with partial pivoting.</summary>
public sealed class DeterminantOp : Operation
{
    public override string Name => "Det";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        var s = inputs[0].Shape;
        if (s.Length < 2 || s[^1] != s[^2]) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(s)} must end in a square matrix");
        return new TensorType(inputs[0].DType, s[..^2]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int n = x.Shape[^1];
        var a = new double[n * n];
        for (int b = 0; b < output.Length; b++)
        {
            for (int i = 0; i < n * n; i++) a[i] = x.GetDouble(b * n * n + i);
            double det = 1;
            for (int c = 0; c < n; c++)
            {
                int p = c;
                for (int r = c + 1; r < n; r++) if (Math.Abs(a[r * n + c]) > Math.Abs(a[p * n + c])) p = r;
                if (a[p * n + c] == 0) { det = 0; break; }
                if (p != c) { for (int k = 0; k < n; k++) (a[c * n + k], a[p * n + k]) = (a[p * n + k], a[c * n + k]); det = -det; }
                det *= a[c * n + c];
                for (int r = c + 1; r < n; r++)
                {
                    double f = a[r * n + c] / a[c * n + c];
                    for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
                }
            }
            output.SetDouble(b, det);
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Det has no gradient rule.");
}

/// <summary>Local response normalization across channels (ONNX LRN): x / (bias + α/size·Σ x²)^β over a channel window.</summary>
public sealed class LrnOp(int size, double alpha, double beta, double bias) : Operation
{
    public override string Name => "LRN";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        if (inputs[0].Rank < 2) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(inputs[0].Shape)} must be (N, C, …)");
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int n = x.Shape[0], c = x.Shape[1], inner = x.Length / Math.Max(n * c, 1);
        int lo = (size - 1) / 2, hi = size - 1 - lo;
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < inner; i++)
                {
                    double sum = 0;
                    for (int k = Math.Max(0, ch - lo); k <= Math.Min(c - 1, ch + hi); k++) { double v = x.GetDouble((b * c + k) * inner + i); sum += v * v; }
                    int p = (b * c + ch) * inner + i;
                    output.SetDouble(p, x.GetDouble(p) / Math.Pow(bias + alpha / size * sum, beta));
                }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("LRN has no gradient rule.");
}

/// <summary>Reverses the first seq_lens[b] steps along the time axis of each batch entry (ONNX ReverseSequence).</summary>
public sealed class ReverseSequenceOp(int batchAxis, int timeAxis) : Operation
{
    public override string Name => "ReverseSequence";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[0].Rank < 2) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(inputs[0].Shape)} must have rank ≥ 2");
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0]; var lens = inputs[1];
        var idx = new int[x.Rank];
        var strides = ShapeMath.RowMajorStrides(x.Shape);
        for (int p = 0; p < x.Length; p++)
        {
            GatherElementsOp.Unravel(p, x.Shape, idx);
            int len = (int)lens.GetDouble(idx[batchAxis]);
            int t = idx[timeAxis];
            int src = p;
            if (t < len) src = p + ((len - 1 - t) - t) * strides[timeAxis];
            output.SetDouble(p, x.GetDouble(src));
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("ReverseSequence has no gradient rule.");
}

/// <summary>Bit shift of unsigned integers (ONNX BitShift) with broadcasting.</summary>
public sealed class BitShiftOp(bool left) : BinaryOp
{
    public override string Name => "BitShift";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var t = base.InferType(inputs);
        if (!t.DType.IsUnsigned()) throw new DTypeMismatchException(Name, $"dtype {t.DType.Name()} is not supported (unsigned integers only)");
        return t;
    }

    protected override void Run<T>(Tensor a, Tensor b, Tensor y)
    {
        var shape = y.ShapeArray();
        var aa = a.Expand(shape).Contiguous().AsSpan<T>(); var bb = b.Expand(shape).Contiguous().AsSpan<T>();
        var ys = y.AsSpan<T>();
        for (int i = 0; i < ys.Length; i++)
        {
            // Shift in 64 bits and truncate to T, so bits shifted past T's width are dropped exactly.
            ulong v = ulong.CreateTruncating(aa[i]), s = ulong.CreateTruncating(bb[i]);
            ulong r = s >= 64 ? 0 : left ? v << (int)s : v >> (int)s;
            ys[i] = T.CreateTruncating(r);
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null, null];
}
