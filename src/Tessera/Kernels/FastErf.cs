using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Tessera.Kernels;

/// <summary>
/// The error function in float32, 8 lanes at a time. Transformers exported from PyTorch compute GELU through Erf
/// (x·½·(1 + erf(x/√2))) on every hidden activation, so a per-element series (<see cref="ErrorFunction"/>, ~60 ns)
/// dominated their run time. Two pieces, both least-squares fits made by tools/fits/fit_erf.py (relative error
/// below 5e-9 in exact arithmetic, so float32 rounding is what remains):
/// |x| &lt; 1: erf x = x·P(x²); 1 ≤ |x|: erf x = sign x · (1 − e^(−x²)·Q(1/(1 + |x|/2))), with |x| clamped to 4,
/// where erf rounds to ±1 in float32. NaN stays NaN.
/// </summary>
public static class FastErf
{
    private const float P0 = 1.1283791662326472f, P1 = -0.37612629767094147f, P2 = 0.11283634634319607f,
        P3 = -0.026856069567832562f, P4 = 0.0051929578653707826f, P5 = -0.000805375109911591f, P6 = 8.0068740678308908e-05f;

    private const float Q0 = -0.00016045174718039146f, Q1 = 0.28500390148232008f, Q2 = 0.25912438338315158f,
        Q3 = 0.34970593989682114f, Q4 = -0.10741787284465792f, Q5 = 0.56777540970016471f, Q6 = -0.47412594491356175f,
        Q7 = 0.1201526186201417f;

    /// <summary>The same formula one value at a time (the vector loop's tail).</summary>
    public static float Erf(float x)
    {
        float a = MathF.Abs(x);
        if (a < 1)
        {
            float s = x * x;
            return x * (P0 + s * (P1 + s * (P2 + s * (P3 + s * (P4 + s * (P5 + s * P6))))));
        }
        if (float.IsNaN(x)) return x;
        a = MathF.Min(a, 4);
        float t = 1 / (1 + 0.5f * a);
        float q = Q0 + t * (Q1 + t * (Q2 + t * (Q3 + t * (Q4 + t * (Q5 + t * (Q6 + t * Q7))))));
        return MathF.CopySign(1 - MathF.Exp(-a * a) * q, x);
    }

    public static void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException($"output holds {y.Length} values, input {x.Length}");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float xs = ref MemoryMarshal.GetReference(x);
            ref float ys = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                Vector256.StoreUnsafe(Erf(Vector256.LoadUnsafe(ref xs, (nuint)i)), ref ys, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = Erf(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var s = x * x;
        var small = x * Poly(s, P0, P1, P2, P3, P4, P5, P6);

        var c = Vector256.Min(a, Vector256.Create(4f));
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(0.5f) * c);
        var q = Vector256.Create(Q0) + t * Poly(t, Q1, Q2, Q3, Q4, Q5, Q6, Q7);
        var large = Vector256<float>.One - Vector256.Exp(-(c * c)) * q;
        // Sign of x onto the large-argument value: its magnitude bits with x's sign bit.
        var sign = x & Vector256.Create(-0f);
        large |= sign;

        var result = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256<float>.One), small, large);
        // NaN fails both comparisons above and would come out as a number; keep it NaN.
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <summary>c0 + v·(c1 + v·(… + v·c6)) by Horner's rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Poly(Vector256<float> v, float c0, float c1, float c2, float c3, float c4, float c5, float c6) =>
        Vector256.Create(c0) + v * (Vector256.Create(c1) + v * (Vector256.Create(c2) + v * (Vector256.Create(c3)
        + v * (Vector256.Create(c4) + v * (Vector256.Create(c5) + v * Vector256.Create(c6))))));
}
