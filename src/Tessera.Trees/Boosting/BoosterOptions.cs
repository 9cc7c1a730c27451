namespace Tessera.Trees.Boosting;

/// <summary>How a tree grows: level by level (XGBoost "depthwise") or best leaf first ("lossguide", LightGBM).</summary>
public enum GrowPolicy { DepthWise, LeafWise }

/// <summary>
/// Hyper-parameters of <see cref="GradientBooster"/>; names and defaults follow XGBoost 1.7 (tree_method=hist).
/// </summary>
/// <example><code>
/// var options = new BoosterOptions { Objective = "binary:logistic", Rounds = 100, MaxDepth = 6, LearningRate = 0.3 };
/// </code></example>
public sealed record BoosterOptions
{
    /// <summary>binary:logistic, multi:softprob, multi:softmax, reg:squarederror, reg:absoluteerror, reg:pseudohubererror.</summary>
    public string Objective { get; init; } = "reg:squarederror";
    public int Rounds { get; init; } = 100;
    public double LearningRate { get; init; } = 0.3;
    /// <summary>0 = unlimited (only sensible with <see cref="MaxLeaves"/> or leaf-wise growth).</summary>
    public int MaxDepth { get; init; } = 6;
    /// <summary>0 = unlimited.</summary>
    public int MaxLeaves { get; init; }
    public GrowPolicy GrowPolicy { get; init; } = GrowPolicy.DepthWise;
    public double MinChildWeight { get; init; } = 1;
    /// <summary>L2 regularisation on leaf weights (reg_lambda).</summary>
    public double Lambda { get; init; } = 1;
    /// <summary>L1 regularisation on leaf weights (reg_alpha).</summary>
    public double Alpha { get; init; }
    /// <summary>Minimum loss reduction to split (min_split_loss); applied before splitting rather than by post-pruning.</summary>
    public double Gamma { get; init; }
    /// <summary>Caps |leaf weight| before the learning rate (0 = no cap).</summary>
    public double MaxDeltaStep { get; init; }
    public double Subsample { get; init; } = 1;
    public double ColsampleByTree { get; init; } = 1;
    public double ColsampleByNode { get; init; } = 1;
    /// <summary>Value bins per feature (2..255); one more bin holds missing values.</summary>
    public int MaxBin { get; init; } = 255;
    /// <summary>Categorical features with at most this many categories split one-vs-rest; others by sorted partition.</summary>
    public int MaxCatToOneHot { get; init; } = 4;
    /// <summary>
    /// Initial prediction in output space; null = XGBoost 1.7's default: the label median for reg:absoluteerror,
    /// else 0.5 (margin 0 for logistic).
    /// </summary>
    public double? BaseScore { get; init; }
    /// <summary>δ of reg:pseudohubererror.</summary>
    public double HuberSlope { get; init; } = 1;
    /// <summary>Stop when the validation metric has not improved for this many rounds (0 = off).</summary>
    public int EarlyStoppingRounds { get; init; }
    public int Seed { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;

    internal void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be {rule}.");
        }
        Check(Rounds >= 1, "rounds", Rounds, ">= 1");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", LearningRate, "> 0");
        Check(MaxDepth >= 0, "max_depth", MaxDepth, ">= 0");
        Check(MaxLeaves >= 0 && MaxLeaves != 1, "max_leaves", MaxLeaves, "0 (unlimited) or >= 2");
        Check(MaxDepth > 0 || MaxLeaves > 0, "max_depth", MaxDepth, "> 0 unless max_leaves is set");
        Check(MinChildWeight >= 0, "min_child_weight", MinChildWeight, ">= 0");
        Check(Lambda >= 0, "reg_lambda", Lambda, ">= 0");
        Check(Alpha >= 0, "reg_alpha", Alpha, ">= 0");
        Check(Gamma >= 0, "gamma", Gamma, ">= 0");
        Check(MaxDeltaStep >= 0, "max_delta_step", MaxDeltaStep, ">= 0");
        Check(Subsample > 0 && Subsample <= 1, "subsample", Subsample, "in (0, 1]");
        Check(ColsampleByTree > 0 && ColsampleByTree <= 1, "colsample_bytree", ColsampleByTree, "in (0, 1]");
        Check(ColsampleByNode > 0 && ColsampleByNode <= 1, "colsample_bynode", ColsampleByNode, "in (0, 1]");
        Check(MaxBin >= 2 && MaxBin <= 255, "max_bin", MaxBin, "in 2..255");
        Check(HuberSlope > 0, "huber_slope", HuberSlope, "> 0");
        Check(EarlyStoppingRounds >= 0, "early_stopping_rounds", EarlyStoppingRounds, ">= 0");
        Check(Threads >= 1, "threads", Threads, ">= 1");
        _ = Boosting.Objective.Create(Objective, 2, HuberSlope);
    }
}
