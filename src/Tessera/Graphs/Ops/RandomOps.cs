namespace Tessera.Graphs;

/// <summary>
/// Inverted-dropout mask shaped like x: each element is 0 with probability p, else 1/(1−p). A fresh mask is drawn on
/// every run from the op's own generator; <see cref="Reseed"/> makes a run sequence reproducible (e.g. per epoch).
/// Not differentiable: dropout is x ⊙ mask, so the gradient flows through the multiply.
/// </summary>
public sealed class DropoutMaskOp : Operation
{
    private Random _rng;

    public DropoutMaskOp(double p, int seed)
    {
        if (p is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout probability must be in [0, 1), got {p}");
        P = p;
        _rng = new Random(seed);
    }

    public double P { get; }
    public override string Name => "DropoutMask";

    public void Reseed(int seed) => _rng = new Random(seed);

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        double scale = 1 / (1 - P);
        if (output.DType == DType.Float32)
        {
            var y = output.AsSpan<float>();
            for (int i = 0; i < y.Length; i++) y[i] = _rng.NextDouble() < P ? 0f : (float)scale;
        }
        else
        {
            var y = output.AsSpan<double>();
            for (int i = 0; i < y.Length; i++) y[i] = _rng.NextDouble() < P ? 0 : scale;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>
/// One-hot encoding of integer class indices: (…) int → (…, classes) with a new axis (last by default) holding
/// <paramref name="on"/> at the index and <paramref name="off"/> elsewhere. Out-of-range indices are an error unless
/// <paramref name="onnx"/> semantics are asked for: then negative indices wrap and out-of-range ones give all-off.
/// </summary>
public sealed class OneHotOp(int classes, DType dtype, int axis = -1, double off = 0, double on = 1, bool onnx = false) : Operation
{
    public int Classes { get; } = classes;
    public int Axis { get; } = axis;
    public override string Name => "OneHot";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (!onnx && inputs[0].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"class indices have dtype {inputs[0].DType.Name()}, expected int32 or int64");
        if (Classes < 1) throw new ArgumentOutOfRangeException(nameof(Classes), $"{Name}: classes must be ≥ 1, got {Classes}");
        var s = inputs[0].Shape.ToList();
        int a = Axis < 0 ? Axis + s.Count + 1 : Axis;
        if (a < 0 || a > s.Count) throw new ArgumentOutOfRangeException(nameof(Axis), $"{Name}: axis {Axis} is out of range for rank {s.Count + 1}.");
        s.Insert(a, Classes);
        return new TensorType(dtype, [.. s]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var idx = inputs[0];
        int a = Axis < 0 ? Axis + idx.Rank + 1 : Axis;
        int inner = 1;
        for (int d = a; d < idx.Rank; d++) inner *= idx.Shape[d];
        output.Fill(off);
        for (int i = 0; i < idx.Length; i++)
        {
            double c = idx.GetDouble(i);
            if (onnx && c < 0) c += Classes;
            if (c < 0 || c >= Classes)
            {
                if (onnx) continue;
                throw new IndexOutOfRangeException($"{Name}: class index {c} at position {i} is outside [0, {Classes}).");
            }
            int o = i / inner, r = i % inner;
            output.SetDouble((o * Classes + (int)c) * inner + r, on);
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}
