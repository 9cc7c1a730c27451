using System.Numerics.Tensors;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Inference-only GELU as PyTorch exports it to ONNX (nn.GELU, approximate='none'): y = (x · (erf(x / √2) + 1)) · ½,
/// five ops (Div, Erf, Add, Mul, Mul) that each read and write the whole activation. <see cref="InferenceFusion"/>
/// builds this op from exactly that pattern with exactly those float32 constants; it computes the same five steps
/// per element in the same order (the same <see cref="FastErf"/>, the same IEEE divide, add and multiplies), a
/// cache-sized chunk at a time and on the kernel threads. Chunks start at multiples of 16 like the separate Erf's
/// parallel chunks, so the same elements take FastErf's scalar tail and the result is bit for bit the unfused
/// graph's. Float32 only; no gradient (training keeps the ops).
/// </summary>
public sealed class FusedGeluOp : Operation
{
    /// <summary>The divisor the exporter writes: √2 rounded to float32.</summary>
    public const float Sqrt2 = 1.41421354f;

    /// <summary>Elements per chunk: a multiple of 16, so chunk starts keep the vector alignment of the unfused Erf.</summary>
    private const int Chunk = 4096;

    public override string Name => "Gelu";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (inputs[0].DType != DType.Float32) throw new DTypeMismatchException(Name, $"expects float32, got {inputs[0].DType.Name()}");
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var xs = x.Data<float>();
        var ys = output.Data<float>();
        int xo = x._offset, yo = output._offset, n = x.Length;
        int chunks = (n + Chunk - 1) / Chunk;
        // Threads only where the separate elementwise ops would use them too: below that a fork/join costs more
        // than it saves (one GELU over a 128×2048 activation is ~0.3 ms on one core).
        if (n < ParallelThreshold) { Apply(xs.AsSpan(xo, n), ys.AsSpan(yo, n)); return; }
        KernelThreads.For(chunks, GemmKernel.MaxThreads, c =>
        {
            int start = c * Chunk, len = Math.Min(Chunk, n - start);
            Apply(xs.AsSpan(xo + start, len), ys.AsSpan(yo + start, len));
        });
    }

    /// <summary>
    /// y = GELU(x) by the exported steps, a chunk at a time (y may be x). Elements at the same offset from a multiple
    /// of 8 past the span's start take the same FastErf path as in one Erf over the whole span.
    /// </summary>
    internal static void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        var t = (s_scratch ??= new float[Chunk]).AsSpan();
        for (int start = 0; start < x.Length; start += Chunk)
        {
            int len = Math.Min(Chunk, x.Length - start);
            var tc = t[..len];
            var xc = x.Slice(start, len);
            TensorPrimitives.Divide(xc, Sqrt2, tc);
            FastErf.Apply(tc, tc);
            TensorPrimitives.Add(tc, 1f, tc);
            TensorPrimitives.Multiply(xc, tc, tc);
            TensorPrimitives.Multiply(tc, 0.5f, y.Slice(start, len));
        }
    }

    private const int ParallelThreshold = 1 << 21;

    /// <summary>One chunk of intermediate values per thread (the pool's workers and the caller).</summary>
    [ThreadStatic] private static float[]? s_scratch;
}
