namespace Tessera.Graphs;

/// <summary>How a loss combines its per-element values.</summary>
public enum LossReduction { None, Sum, Mean }

/// <summary>
/// Negative log-likelihood: inputs log-probabilities (N, C, d…), integer targets (N, d…) and optional class weights (C).
/// loss = −w[t]·logp[n, t, d…]; targets equal to <see cref="IgnoreIndex"/> contribute nothing. Mean divides by the
/// sum of the weights of the counted targets (ONNX / PyTorch semantics).
/// </summary>
public sealed class NllLossOp(LossReduction reduction, long? ignoreIndex) : Operation
{
    public LossReduction Reduction { get; } = reduction;
    public long? IgnoreIndex { get; } = ignoreIndex;
    public override string Name => "NegativeLogLikelihoodLoss";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length is not (2 or 3)) throw new ArgumentException($"{Name}: expected input, target and optionally weight; got {inputs.Length} inputs.");
        ExpectFloat(inputs[0]);
        if (inputs[1].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"target has dtype {inputs[1].DType.Name()}, expected int32 or int64");
        var x = inputs[0].Shape; var t = inputs[1].Shape;
        if (x.Length < 2 || t.Length != x.Length - 1)
            throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} must be (N, C, d…) and target {ShapeMath.Format(t)} (N, d…)");
        if (inputs.Length == 3) ExpectSameDType(inputs[0], inputs[2]);
        return new TensorType(inputs[0].DType, Reduction == LossReduction.None ? (int[])t.Clone() : []);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous(); var target = inputs[1]; var weight = inputs.Length == 3 ? inputs[2] : null;
        int n = x.Shape[0], c = x.Shape[1], inner = x.Length / Math.Max(n * c, 1);
        double total = 0, weightSum = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < inner; i++)
            {
                int p = b * inner + i;
                long t = (long)target.GetDouble(p);
                double loss = 0, w = 0;
                if (IgnoreIndex != t)
                {
                    if (t < 0 || t >= c) throw new IndexOutOfRangeException($"{Name}: target {t} is out of range for {c} classes.");
                    w = weight is null ? 1 : weight.GetDouble((int)t);
                    loss = -x.GetDouble((b * c + (int)t) * inner + i) * w;
                }
                if (Reduction == LossReduction.None) output.SetDouble(p, loss);
                total += loss; weightSum += w;
            }
        if (Reduction == LossReduction.Sum) output.SetDouble(0, total);
        else if (Reduction == LossReduction.Mean) output.SetDouble(0, total / weightSum);
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} has no gradient rule yet.");
}
