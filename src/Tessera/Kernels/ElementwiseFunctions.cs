using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Kernels;

// The elementwise functions the ops use: a scalar form and span forms (TensorPrimitives where it has one).

public readonly struct AddFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a + b;
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Add(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Add(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Add(b, a, y);
}

public readonly struct SubFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a - b;
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
}

public readonly struct MulFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a * b;
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Multiply(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Multiply(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Multiply(b, a, y);
}

public readonly struct DivFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a / b;
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
}

/// <summary>IEEE 754 maximum: NaN if either is NaN (as numpy.maximum).</summary>
public readonly struct MaxFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => T.Max(a, b);
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Max(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Max(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Max(b, a, y);
}

public readonly struct MinFn<T> : IBinaryFunction<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => T.Min(a, b);
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Min(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Min(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Min(b, a, y);
}

public readonly struct PowFn<T> : IBinaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T a, T b) => T.Pow(a, b);
    public static void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
    public static void Apply(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
    public static void Apply(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
}

public readonly struct EqualFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a == b; }
public readonly struct NotEqualFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a != b; }
public readonly struct LessFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a < b; }
public readonly struct LessEqualFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a <= b; }
public readonly struct GreaterFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a > b; }
public readonly struct GreaterEqualFn<T> : ICompareFunction<T> where T : INumber<T> { public static bool Apply(T a, T b) => a >= b; }

public readonly struct NegFn<T> : IUnaryFunction<T> where T : INumber<T>
{
    public static T Apply(T x) => -x;
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Negate(x, y);
}

public readonly struct AbsFn<T> : IUnaryFunction<T> where T : INumber<T>
{
    public static T Apply(T x) => T.Abs(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Abs(x, y);
}

public readonly struct SquareFn<T> : IUnaryFunction<T> where T : INumber<T>
{
    public static T Apply(T x) => x * x;
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Multiply(x, x, y);
}

/// <summary>-1, 0 or +1 (NaN stays NaN).</summary>
public readonly struct SignFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.IsNaN(x) ? x : x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) { for (int i = 0; i < x.Length; i++) y[i] = Apply(x[i]); }
}

/// <summary>1 where x &gt; 0, else 0: the derivative of ReLU.</summary>
public readonly struct StepFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => x > T.Zero ? T.One : T.Zero;

    public static void Apply(ReadOnlySpan<T> x, Span<T> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var one = Vector<T>.One;
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var v = new Vector<T>(x.Slice(i));
                // GreaterThan yields all-ones lanes where true; masking 1.0 with it gives 1 or 0 (NaN compares false).
                (Vector.GreaterThan(v, Vector<T>.Zero).As<T, byte>() & one.As<T, byte>()).As<byte, T>().CopyTo(y.Slice(i));
            }
        }
        for (; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : T.Zero;
    }
}

/// <summary>
/// ReLU's backward pass in one sweep: gy where x &gt; 0, else 0 (a select, as PyTorch's threshold_backward, so a
/// non-finite gy at an inactive unit gives 0 rather than 0·∞ = NaN). Arguments (gy, x).
/// </summary>
public readonly struct ReluGradFn<T> : IBinaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T gy, T x) => x > T.Zero ? gy : T.Zero;

    public static void Apply(ReadOnlySpan<T> gy, ReadOnlySpan<T> x, Span<T> y)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // GreaterThan gives all-ones lanes where x > 0 (NaN compares false); and-ing gy with it selects gy or +0.
            for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
                (new Vector<T>(gy.Slice(i)) & Vector.GreaterThan(new Vector<T>(x.Slice(i)), Vector<T>.Zero)).CopyTo(y.Slice(i));
        }
        for (; i < x.Length; i++) y[i] = x[i] > T.Zero ? gy[i] : T.Zero;
    }

    public static void Apply(ReadOnlySpan<T> gy, T x, Span<T> y)
    {
        if (x > T.Zero) gy.CopyTo(y); else y.Clear();
    }

    public static void Apply(T gy, ReadOnlySpan<T> x, Span<T> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? gy : T.Zero;
    }
}

public readonly struct ReluFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    // x > 0 ? x : 0, but NaN stays NaN (as torch.relu).
    public static T Apply(T x) => x > T.Zero || T.IsNaN(x) ? x : T.Zero;
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Max(x, T.Zero, y);
}

public readonly struct ExpFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Exp(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Exp(x, y);
}

public readonly struct LogFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Log(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Log(x, y);
}

public readonly struct SqrtFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Sqrt(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sqrt(x, y);
}

public readonly struct ReciprocalFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / x;
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Divide(T.One, x, y);
}

public readonly struct TanhFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Tanh(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Tanh(x, y);
}

public readonly struct SigmoidFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / (T.One + T.Exp(-x));
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sigmoid(x, y);
}

public readonly struct SinFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Sin(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sin(x, y);
}

public readonly struct CosFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Cos(x);
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Cos(x, y);
}

/// <summary>log(1 + eˣ), computed as max(x, 0) + log1p(e^-|x|) so it neither overflows nor loses small values.</summary>
public readonly struct SoftplusFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.Max(x, T.Zero) + T.LogP1(T.Exp(-T.Abs(x)));
    public static void Apply(ReadOnlySpan<T> x, Span<T> y) { for (int i = 0; i < x.Length; i++) y[i] = Apply(x[i]); }
}

/// <summary>float32 through <see cref="FastErf"/> (vectorized fits), other types through the double-precision series.</summary>
public readonly struct ErfFn<T> : IUnaryFunction<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => typeof(T) == typeof(float)
        ? T.CreateTruncating(FastErf.Erf(float.CreateTruncating(x)))
        : T.CreateTruncating(ErrorFunction.Erf(double.CreateTruncating(x)));

    public static void Apply(ReadOnlySpan<T> x, Span<T> y)
    {
        if (typeof(T) == typeof(float))
        {
            FastErf.Apply(
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), x.Length),
                MemoryMarshal.CreateSpan(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(y)), y.Length));
            return;
        }
        for (int i = 0; i < x.Length; i++) y[i] = Apply(x[i]);
    }
}

/// <summary>The error function to double precision (.NET has none).</summary>
public static class ErrorFunction
{
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax < 2.5)
        {
            // Maclaurin series: erf x = 2/√π Σ (-1)ⁿ x^(2n+1) / (n! (2n+1)); terms peak near e^(x²) so below 2.5 the
            // cancellation costs under 3 digits of 16.
            double term = x, sum = x, x2 = x * x;
            for (int n = 1; n < 200; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        if (ax > 6) return Math.Sign(x);
        // erfc by its continued fraction (modified Lentz), accurate for x ≥ 2.5.
        double tiny = 1e-300, f = ax, c = ax, d = 0;
        for (int n = 1; n < 300; n++)
        {
            double an = n / 2.0;
            double b = ax;
            // erfc x = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))): a_n = n/2, b_n = x.
            d = b + an * d; if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
