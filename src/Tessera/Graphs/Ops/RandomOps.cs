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

/// <summary>One-hot encoding of integer class indices: (…) int → (…, classes) float. Out-of-range indices are an error.</summary>
public sealed class OneHotOp(int classes, DType dtype) : Operation
{
    public int Classes { get; } = classes;
    public override string Name => "OneHot";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (inputs[0].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"class indices have dtype {inputs[0].DType.Name()}, expected int32 or int64");
        if (Classes < 1) throw new ArgumentOutOfRangeException(nameof(Classes), $"{Name}: classes must be ≥ 1, got {Classes}");
        return new TensorType(dtype, [.. inputs[0].Shape, Classes]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        output.Fill(0);
        var idx = inputs[0];
        for (int i = 0; i < idx.Length; i++)
        {
            double c = idx.GetDouble(i);
            if (c < 0 || c >= Classes)
                throw new IndexOutOfRangeException($"{Name}: class index {c} at position {i} is outside [0, {Classes}).");
            output.SetDouble(i * Classes + (int)c, 1);
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}
