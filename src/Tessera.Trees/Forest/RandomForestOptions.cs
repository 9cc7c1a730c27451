namespace Tessera.Trees.Forest;

/// <summary>Hyper-parameters of <see cref="RandomForest"/>; names and defaults follow sklearn 1.2's RandomForest*.</summary>
public sealed record RandomForestOptions
{
    /// <summary>Classification (Gini impurity, soft voting) or regression (squared error, mean).</summary>
    public bool Classification { get; init; } = true;
    public int Trees { get; init; } = 100;
    /// <summary>0 = grow until leaves are pure or too small to split.</summary>
    public int MaxDepth { get; init; }
    public int MinSamplesSplit { get; init; } = 2;
    public int MinSamplesLeaf { get; init; } = 1;
    /// <summary>Fraction of features tried at each split; null = sqrt(features) for classification, all for regression.</summary>
    public double? MaxFeatures { get; init; }
    public bool Bootstrap { get; init; } = true;
    public int MaxBin { get; init; } = 255;
    public int Seed { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;

    internal int FeaturesPerSplit(int features) => MaxFeatures is { } f
        ? Math.Clamp((int)Math.Round(f * features), 1, features)
        : Classification ? Math.Max(1, (int)Math.Sqrt(features)) : features;

    internal void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be {rule}.");
        }
        Check(Trees >= 1, "n_estimators", Trees, ">= 1");
        Check(MaxDepth >= 0, "max_depth", MaxDepth, ">= 0");
        Check(MinSamplesSplit >= 2, "min_samples_split", MinSamplesSplit, ">= 2");
        Check(MinSamplesLeaf >= 1, "min_samples_leaf", MinSamplesLeaf, ">= 1");
        Check(MaxFeatures is null || (MaxFeatures > 0 && MaxFeatures <= 1), "max_features", MaxFeatures ?? 0, "in (0, 1]");
        Check(MaxBin >= 2 && MaxBin <= 255, "max_bin", MaxBin, "in 2..255");
        Check(Threads >= 1, "threads", Threads, ">= 1");
    }
}
