using System.Numerics;

namespace Tessera.Solvers;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, with PyTorch's
/// semantics: d = g + λp; b = μb + d (b = d on the first step); d = nesterov ? d + μb : b; p -= lr·d.
/// </summary>
public sealed class Sgd : Solver
{
    public double Momentum { get; }
    public bool Nesterov { get; }
    public double WeightDecay { get; }

    public Sgd(double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0) : base(learningRate)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), "momentum must be ≥ 0");
        if (weightDecay < 0) throw new ArgumentOutOfRangeException(nameof(weightDecay), "weight decay must be ≥ 0");
        if (nesterov && momentum == 0) throw new ArgumentException("Nesterov momentum needs momentum > 0.", nameof(nesterov));
        Momentum = momentum; Nesterov = nesterov; WeightDecay = weightDecay;
    }

    protected override int StateSlots => Momentum > 0 ? 1 : 0;

    protected override void Update<T>(Span<T> p, ReadOnlySpan<T> g, Tensor[] state)
    {
        T lr = T.CreateTruncating(LearningRate), wd = T.CreateTruncating(WeightDecay), mu = T.CreateTruncating(Momentum);
        var buf = Momentum > 0 ? state[0].AsSpan<T>() : default;
        bool first = Steps == 1;
        for (int i = 0; i < p.Length; i++)
        {
            T d = g[i] + wd * p[i];
            if (Momentum > 0)
            {
                buf[i] = first ? d : mu * buf[i] + d;
                d = Nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d;
        }
    }
}
