using System.Numerics;

namespace Tessera.Solvers;

/// <summary>
/// Adam (Kingma &amp; Ba) with bias correction. <see cref="DecoupledWeightDecay"/> false adds λp to the gradient
/// (PyTorch's Adam); true shrinks p by lr·λ before the step (AdamW, Loshchilov &amp; Hutter).
/// </summary>
public class Adam : Solver
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }
    public bool DecoupledWeightDecay { get; }

    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, decoupled: false) { }

    protected Adam(double learningRate, double beta1, double beta2, double epsilon, double weightDecay, bool decoupled) : base(learningRate)
    {
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), "beta1 must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), "beta2 must be in [0, 1)");
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be > 0");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), "weight decay must be ≥ 0");
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon; WeightDecay = weightDecay; DecoupledWeightDecay = decoupled;
    }

    protected override int StateSlots => 2;

    protected override void Update<T>(Span<T> p, ReadOnlySpan<T> g, Tensor[] state)
    {
        var m = state[0].AsSpan<T>();
        var v = state[1].AsSpan<T>();
        double c1 = 1 - Math.Pow(Beta1, Steps), c2 = 1 - Math.Pow(Beta2, Steps);
        T b1 = T.CreateTruncating(Beta1), b2 = T.CreateTruncating(Beta2);
        T ob1 = T.One - b1, ob2 = T.One - b2;
        T stepSize = T.CreateTruncating(LearningRate / c1);
        T invSqrtC2 = T.CreateTruncating(1 / Math.Sqrt(c2));
        T eps = T.CreateTruncating(Epsilon);
        T wd = T.CreateTruncating(WeightDecay);
        T shrink = T.CreateTruncating(1 - LearningRate * WeightDecay);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // The same arithmetic as the scalar loop below, Vector<T>.Count lanes at a time.
            var vb1 = new Vector<T>(b1); var vb2 = new Vector<T>(b2); var vob1 = new Vector<T>(ob1); var vob2 = new Vector<T>(ob2);
            var vstep = new Vector<T>(stepSize); var vinv = new Vector<T>(invSqrtC2); var veps = new Vector<T>(eps);
            var vwd = new Vector<T>(wd); var vshrink = new Vector<T>(shrink);
            for (; i <= p.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var gi = new Vector<T>(g.Slice(i));
                var pi = new Vector<T>(p.Slice(i));
                if (DecoupledWeightDecay) pi *= vshrink;
                else gi += vwd * pi;
                var mi = vb1 * new Vector<T>(m.Slice(i)) + vob1 * gi;
                var vi = vb2 * new Vector<T>(v.Slice(i)) + vob2 * gi * gi;
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                (pi - vstep * mi / (Vector.SquareRoot(vi) * vinv + veps)).CopyTo(p.Slice(i));
            }
        }
        for (; i < p.Length; i++)
        {
            T gi = g[i];
            if (DecoupledWeightDecay) p[i] *= shrink;
            else gi += wd * p[i];
            m[i] = b1 * m[i] + ob1 * gi;
            v[i] = b2 * v[i] + ob2 * gi * gi;
            p[i] -= stepSize * m[i] / (T.Sqrt(v[i]) * invSqrtC2 + eps);
        }
    }
}

/// <summary>Adam with decoupled weight decay (default λ = 0.01, as PyTorch's AdamW).</summary>
public sealed class AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    : Adam(learningRate, beta1, beta2, epsilon, weightDecay, decoupled: true);
