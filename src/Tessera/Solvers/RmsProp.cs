using System.Numerics;

namespace Tessera.Solvers;

/// <summary>
/// RMSProp with PyTorch's semantics: v = αv + (1−α)g²; with momentum μ, b = μb + g/(√v + ε) and p -= lr·b,
/// else p -= lr·g/(√v + ε). Weight decay adds λp to the gradient.
/// </summary>
public sealed class RmsProp : Solver
{
    public double Alpha { get; }
    public double Epsilon { get; }
    public double Momentum { get; }
    public double WeightDecay { get; }

    public RmsProp(double learningRate = 1e-2, double alpha = 0.99, double epsilon = 1e-8, double momentum = 0, double weightDecay = 0) : base(learningRate)
    {
        if (alpha is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(alpha), "alpha must be in [0, 1)");
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be > 0");
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), "momentum must be ≥ 0");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), "weight decay must be ≥ 0");
        Alpha = alpha; Epsilon = epsilon; Momentum = momentum; WeightDecay = weightDecay;
    }

    protected override int StateSlots => 2;

    protected override void Update<T>(Span<T> p, ReadOnlySpan<T> g, Tensor[] state)
    {
        var v = state[0].AsSpan<T>();
        var buf = state[1].AsSpan<T>();
        T a = T.CreateTruncating(Alpha), oa = T.One - a, eps = T.CreateTruncating(Epsilon);
        T lr = T.CreateTruncating(LearningRate), mu = T.CreateTruncating(Momentum), wd = T.CreateTruncating(WeightDecay);
        for (int i = 0; i < p.Length; i++)
        {
            T gi = g[i] + wd * p[i];
            v[i] = a * v[i] + oa * gi * gi;
            T d = gi / (T.Sqrt(v[i]) + eps);
            if (Momentum > 0) d = buf[i] = mu * buf[i] + d;
            p[i] -= lr * d;
        }
    }
}
