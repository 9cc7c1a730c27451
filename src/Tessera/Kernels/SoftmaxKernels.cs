using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

/// <summary>Softmax and log-softmax along one axis, max-shifted so large logits do not overflow.</summary>
public static class SoftmaxKernels
{
    public static void Softmax<T>(Tensor x, int axis, bool log, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var src = x.Contiguous();
        var xs = src.AsSpan<T>();
        var ys = y.AsSpan<T>();
        int outer = 1, n = src.Shape[axis], inner = 1;
        for (int d = 0; d < axis; d++) outer *= src.Shape[d];
        for (int d = axis + 1; d < src.Rank; d++) inner *= src.Shape[d];
        if (n == 0) return;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++) Row(xs.Slice(o * n, n), log, ys.Slice(o * n, n));
            return;
        }
        var rowIn = new T[n];
        var rowOut = new T[n];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int b = o * n * inner + i;
                for (int k = 0; k < n; k++) rowIn[k] = xs[b + k * inner];
                Row(rowIn, log, rowOut);
                for (int k = 0; k < n; k++) ys[b + k * inner] = rowOut[k];
            }
    }

    private static void Row<T>(ReadOnlySpan<T> x, bool log, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max(x);
        if (T.IsInfinity(max)) max = T.Zero; // all -inf or an +inf: let IEEE arithmetic decide
        TensorPrimitives.Subtract(x, max, y);
        if (log)
        {
            // y = (x - max) - log Σ exp(x - max)
            T sum = T.Zero;
            for (int k = 0; k < y.Length; k++) sum += T.Exp(y[k]);
            TensorPrimitives.Subtract(y, T.Log(sum), y);
        }
        else
        {
            TensorPrimitives.Exp(y, y);
            T sum = TensorPrimitives.Sum<T>(y);
            TensorPrimitives.Multiply(y, T.One / sum, y);
        }
    }
}
