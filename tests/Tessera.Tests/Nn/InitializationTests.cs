using Tessera.Nn;

namespace Tessera.Tests.Nn;

/// <summary>
/// Default initialization follows PyTorch 1.13's distributions (not its random stream):
/// Linear/Conv2d weights and biases U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5), Embedding N(0, 1),
/// MultiheadAttention in_proj_weight xavier_uniform U(±√(6/(E + 3E))) with zero biases, and the norm layers'
/// ones/zeros affine and running statistics.
/// </summary>
public class InitializationTests
{
    /// <summary>
    /// All values lie in [−bound, bound]; with 200 or more values they also fill it (extremes near ±bound) and have
    /// U(−b, b)'s mean 0 and variance b²/3.
    /// </summary>
    private static void AssertUniform(Tensor t, double bound, string what)
    {
        var v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -bound, bound));
        if (v.Length < 200) return;
        Assert.True(v.Max() > 0.9 * bound && v.Min() < -0.9 * bound, $"{what}: range [{v.Min()}, {v.Max()}] does not fill ±{bound}");
        double mean = v.Average(), variance = v.Select(x => (x - mean) * (x - mean)).Average();
        double expectedVar = bound * bound / 3;
        Assert.True(Math.Abs(mean) < 4 * bound / Math.Sqrt(3 * v.Length), $"{what}: mean {mean} is not ≈ 0 (bound {bound})");
        Assert.True(Math.Abs(variance / expectedVar - 1) < 0.15, $"{what}: variance {variance}, expected ≈ {expectedVar}");
    }

    private static void AssertConstant(Tensor t, double value, string what) =>
        Assert.True(t.ToDoubleArray().All(x => x == value), $"{what}: expected all {value}");

    [Theory]
    [InlineData(50, 40)]
    [InlineData(7, 300)]
    public void LinearIsUniformWithinInverseSqrtFanIn(int inFeatures, int outFeatures)
    {
        var layer = new Linear(inFeatures, outFeatures, seed: 3, dtype: DType.Float64);
        double bound = 1 / Math.Sqrt(inFeatures);
        AssertUniform(layer.Weight.Value, bound, "Linear.weight");
        AssertUniform(layer.Bias!.Value, bound, "Linear.bias");
    }

    [Fact]
    public void Conv2dFanInCountsInputChannelsPerGroupAndKernel()
    {
        var conv = new Conv2d(8, 300, 3, groups: 2, seed: 5, dtype: DType.Float64);
        double bound = 1 / Math.Sqrt(8 / 2 * 3 * 3);
        AssertUniform(conv.Weight.Value, bound, "Conv2d.weight");
        AssertUniform(conv.Bias!.Value, bound, "Conv2d.bias");
    }

    [Fact]
    public void EmbeddingIsStandardNormal()
    {
        var v = new Embedding(100, 50, seed: 2, dtype: DType.Float64).Weight.Value.ToDoubleArray();
        double mean = v.Average(), std = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
        Assert.InRange(mean, -0.06, 0.06);   // 5000 samples: σ(mean) ≈ 0.014
        Assert.InRange(std, 0.95, 1.05);
        Assert.True(v.Max() > 2.5 && v.Min() < -2.5, "N(0, 1) tails missing");
    }

    [Fact]
    public void MultiheadAttentionIsXavierUniformWithZeroBiases()
    {
        const int e = 32;
        var mha = new MultiHeadAttention(e, 4, seed: 1, dtype: DType.Float64);
        AssertUniform(mha.InProjWeight.Value, Math.Sqrt(6.0 / (e + 3 * e)), "in_proj_weight");
        AssertConstant(mha.InProjBias.Value, 0, "in_proj_bias");
        AssertUniform(mha.OutProj.Weight.Value, 1 / Math.Sqrt(e), "out_proj.weight");
        AssertConstant(mha.OutProj.Bias!.Value, 0, "out_proj.bias");
    }

    [Fact]
    public void NormLayersStartAsIdentityAffineWithUnitRunningStats()
    {
        var bn = new BatchNorm2d(6, dtype: DType.Float64);
        AssertConstant(bn.Weight.Value, 1, "bn.weight");
        AssertConstant(bn.Bias.Value, 0, "bn.bias");
        AssertConstant(bn.RunningMean.Value, 0, "bn.running_mean");
        AssertConstant(bn.RunningVar.Value, 1, "bn.running_var");
        Assert.Equal(0, bn.NumBatchesTracked.Value.ToScalar());
        Assert.Equal(DType.Int64, bn.NumBatchesTracked.Value.DType);
        var ln = new LayerNorm([3, 4], dtype: DType.Float64);
        AssertConstant(ln.Weight!.Value, 1, "ln.weight");
        AssertConstant(ln.Bias!.Value, 0, "ln.bias");
    }

    [Fact]
    public void SequentialLayersWithDistinctSeedsDiffer()
    {
        // Not a PyTorch property as such, but a sanity check that the seed reaches the initializer.
        var a = new Linear(10, 20, seed: 1, dtype: DType.Float64).Weight.Value.ToDoubleArray();
        var b = new Linear(10, 20, seed: 2, dtype: DType.Float64).Weight.Value.ToDoubleArray();
        Assert.NotEqual(a, b);
    }
}
