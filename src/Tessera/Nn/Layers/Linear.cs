using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>y = x·Wᵀ + b with W of shape (out, in), as PyTorch stores it. x may have leading batch axes.</summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, bool bias = true, int seed = 0, DType dtype = DType.Float32)
    {
        if (inFeatures < 1) throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear: in_features must be ≥ 1, got {inFeatures}");
        if (outFeatures < 1) throw new ArgumentOutOfRangeException(nameof(outFeatures), $"Linear: out_features must be ≥ 1, got {outFeatures}");
        InFeatures = inFeatures; OutFeatures = outFeatures;
        Weight = AddParameter("weight", Init.FanInUniform(seed, inFeatures, dtype, outFeatures, inFeatures));
        Bias = bias ? AddParameter("bias", Init.FanInUniform(seed + 1, inFeatures, dtype, outFeatures)) : null;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Node Forward(Node x, ForwardContext ctx)
    {
        if (x.Rank == 0 || (x.Shape[^1] != InFeatures && x.Shape[^1] != -1))
            throw new ShapeMismatchException("Linear", $"input {ShapeMath.Format(x.Shape)} has {(x.Rank == 0 ? 0 : x.Shape[^1])} features, the layer expects {InFeatures}");
        // Wᵀ is a transposed view: GEMM reads it as a transposed operand, nothing is copied.
        var y = Ops.MatMul(x, Ops.Transpose(ctx.Bind(Weight)));
        return Bias is null ? y : Ops.Add(y, ctx.Bind(Bias));
    }
}
