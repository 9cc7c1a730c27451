using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Inference-only SiLU (swish), x · σ(x), as exporters write it: Mul(x, Sigmoid(x)). <see cref="InferenceFusion"/>
/// builds it when the Sigmoid has no other reader: one pass that computes σ a cache-sized chunk at a time and
/// multiplies while the chunk is hot, instead of two ops each reading and writing the whole activation
/// (EfficientNet and MnasNet-style networks apply it after almost every convolution). Same primitives as the two
/// ops (TensorPrimitives' sigmoid and multiply), so results agree to the last bit except where the two ops' chunk
/// boundaries put an element on another vector path. σ(0)·0 = 0, so it may run on channel-blocked tensors.
/// </summary>
public sealed class FusedSiluOp : FloatUnaryOp
{
    public override string Name => "Silu";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SiluFn<T>>(x, y);
}

/// <summary>x · σ(x) by chunks of 4096 (σ into a scratch chunk, so x and y may be the same buffer).</summary>
public readonly struct SiluFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    private const int Chunk = 4096;

    public static T Apply(T x) => x * SigmoidFn<T>.Apply(x);

    public static void Apply(ReadOnlySpan<T> x, Span<T> y)
    {
        var scratch = ArrayPool<T>.Shared.Rent(Math.Min(Chunk, x.Length));
        try
        {
            for (int i = 0; i < x.Length; i += Chunk)
            {
                int n = Math.Min(Chunk, x.Length - i);
                var s = scratch.AsSpan(0, n);
                SigmoidFn<T>.Apply(x.Slice(i, n), s);
                TensorPrimitives.Multiply(x.Slice(i, n), s, y.Slice(i, n));
            }
        }
        finally { ArrayPool<T>.Shared.Return(scratch); }
    }
}
