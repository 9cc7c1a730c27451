namespace Tessera.Nn;

/// <summary>Parameter initializers with PyTorch's defaults, from a seed.</summary>
public static class Init
{
    /// <summary>
    /// U(−1/√fan_in, 1/√fan_in): what PyTorch's Linear and Conv layers use (kaiming_uniform with a = √5 for weights,
    /// the same bound for biases).
    /// </summary>
    public static Tensor FanInUniform(int seed, int fanIn, DType dtype, params int[] shape)
    {
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        return Tensor.RandomUniform(seed, dtype, -bound, bound, shape);
    }
}
