namespace Tessera.Trees.Boosting;

/// <summary>XGBoost's regularised leaf weight and structure score for a node with gradient sum G and hessian sum H.</summary>
internal readonly struct SplitScoring(double lambda, double alpha, double maxDeltaStep)
{
    private double ThresholdL1(double g) => g > alpha ? g - alpha : g < -alpha ? g + alpha : 0;

    /// <summary>w* = -T(G) / (H + λ), T soft-thresholding by α, clipped to ±max_delta_step when set.</summary>
    public double Weight(double g, double h)
    {
        if (h <= 0) return 0;
        double w = -ThresholdL1(g) / (h + lambda);
        if (maxDeltaStep > 0) w = Math.Clamp(w, -maxDeltaStep, maxDeltaStep);
        return w;
    }

    /// <summary>Structure score T(G)² / (H + λ); the gain of a split is score(L) + score(R) − score(parent).</summary>
    public double Score(double g, double h)
    {
        if (h <= 0) return 0;
        if (alpha == 0 && maxDeltaStep <= 0) return g * g / (h + lambda);
        if (maxDeltaStep <= 0)
        {
            double t = ThresholdL1(g);
            return t * t / (h + lambda);
        }
        double w = Weight(g, h);
        return -(2 * g * w + (h + lambda) * w * w + 2 * alpha * Math.Abs(w));
    }
}

/// <summary>The best split found for a node.</summary>
internal struct SplitCandidate
{
    public int Feature;
    /// <summary>Numeric: the last bin that goes left.</summary>
    public int Bin;
    public bool DefaultLeft;
    public double Gain;
    public double LeftG, LeftH;
    /// <summary>Categorical: codes going left (256 bits), else null.</summary>
    public ulong[]? Categories;

    public static SplitCandidate None => new() { Feature = -1, Gain = double.NegativeInfinity };

    /// <summary>Strictly better gain wins; equal gains keep the lower feature (deterministic under any thread count).</summary>
    public readonly bool BetterThan(in SplitCandidate other) =>
        Gain > other.Gain || (Gain == other.Gain && Feature >= 0 && (other.Feature < 0 || Feature < other.Feature));
}
