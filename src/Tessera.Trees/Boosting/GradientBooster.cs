using Tessera.Trees.Data;

namespace Tessera.Trees.Boosting;

/// <summary>Progress of one boosting round: its index, and the validation metric when a validation set was given.</summary>
public readonly record struct RoundReport(int Round, int TotalRounds, string Metric, double? Validation);

/// <summary>
/// Histogram gradient boosting (XGBoost's second-order method with tree_method=hist).
/// </summary>
/// <remarks>
/// Per round: gradients of the objective at the current margins, then one tree per output grown on the binned
/// features by <see cref="TreeGrower"/>. With several outputs (softmax) and threads, trees of different classes
/// grow in parallel, one thread each; otherwise one tree's histograms are built in parallel over features.
/// Either way every sum is taken in the same order, so a fixed seed gives the same model for any thread count.
/// </remarks>
public static class GradientBooster
{
    /// <summary>Trains a model; <paramref name="validation"/> enables metric reporting and early stopping.</summary>
    public static BoostedTreesModel Train(TabularData train, BoosterOptions options, TabularData? validation = null,
        Action<RoundReport>? onRound = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.Rows == 0) throw new TabularDataException("the training data has no rows.");
        if (train.ColumnCount == 0) throw new TabularDataException("the training data has no feature columns.");
        var objective = Objective.Create(options.Objective, 2, options.HuberSlope);

        double[] labels;
        string[]? classNames = null;
        int classes = 0;
        if (objective.IsClassification)
        {
            (int[] cls, classNames) = LabelEncoding.EncodeClasses(train);
            classes = classNames.Length;
            if (objective is LogisticObjective && classes != 2)
                throw new TabularDataException(
                    $"binary:logistic needs two classes, but label column '{train.LabelName}' has {classes} ({string.Join(", ", classNames.Take(5))}{(classes > 5 ? ", ..." : "")}); use multi:softprob.");
            labels = cls.Select(c => (double)c).ToArray();
        }
        else
        {
            LabelEncoding.CheckFinite(train);
            labels = train.Labels;
        }
        int outputs = objective.Outputs(classes);
        int n = train.Rows;
        double baseMargin = objective.BaseMargin(options.BaseScore ?? (objective.RefitsLeaves ? Median(labels) : 0.5));

        var binned = FeatureBinner.Fit(train, options.MaxBin, options.Threads);
        bool classParallel = outputs > 1 && options.Threads > 1;
        int workers = classParallel ? Math.Min(options.Threads, outputs) : 1;
        var growers = new TreeGrower[workers];
        for (int w = 0; w < workers; w++) growers[w] = new TreeGrower(binned, classParallel ? 1 : options.Threads);

        var margins = new double[(long)n * outputs];
        Array.Fill(margins, baseMargin);
        var gradHess = new double[outputs][];
        for (int k = 0; k < outputs; k++) gradHess[k] = new double[2 * n];

        float[]? validX = null;
        double[]? validMargins = null, validLabels = null;
        if (validation is not null)
        {
            validX = FeatureAlignment.Align(train.Columns, validation);
            validLabels = objective.IsClassification
                ? LabelEncoding.EncodeWith(validation, classNames!).Select(c => (double)c).ToArray()
                : CheckedLabels(validation);
            validMargins = new double[(long)validation.Rows * outputs];
            Array.Fill(validMargins, baseMargin);
        }

        var settings = GrowthSettings.From(options);
        var trees = new List<DecisionTree>();
        var allFeatures = Enumerable.Range(0, binned.Features).ToArray();
        var sampleRng = new Random(options.Seed);
        int[]? sampled = options.Subsample < 1 ? new int[n] : null;
        bool[]? inSample = options.Subsample < 1 ? new bool[n] : null;
        double bestMetric = double.PositiveInfinity;
        int bestRound = -1;
        var roundTrees = new DecisionTree[outputs];

        for (int round = 0; round < options.Rounds; round++)
        {
            objective.Gradients(margins, labels, outputs, gradHess);
            int sampleCount = n;
            if (sampled is not null)
            {
                sampleCount = 0;
                for (int r = 0; r < n; r++)
                {
                    inSample![r] = sampleRng.NextDouble() < options.Subsample;
                    if (inSample[r]) sampled[sampleCount++] = r;
                }
                if (sampleCount == 0) { int r = sampleRng.Next(n); inSample![r] = true; sampled[sampleCount++] = r; }
            }

            void GrowOutput(TreeGrower grower, int k)
            {
                var rng = new Random(TreeSeed(options.Seed, round, k));
                int[] features = allFeatures;
                if (options.ColsampleByTree < 1) features = SampleFeatures(allFeatures, options.ColsampleByTree, rng);
                var grown = grower.Grow(gradHess[k], sampled, sampleCount, features, settings, rng);
                var tree = grown.Tree;
                if (objective.RefitsLeaves) RefitMedians(grown, labels, margins, outputs, k, options.LearningRate);
                foreach (var (node, begin, end) in grown.LeafRanges)
                {
                    double v = tree.Values[node];
                    for (int i = begin; i < end; i++) margins[(long)grown.RowOrder[i] * outputs + k] += v;
                }
                if (inSample is not null)
                {
                    int m = binned.Features;
                    for (int r = 0; r < n; r++)
                        if (!inSample[r]) margins[(long)r * outputs + k] += tree.Values[tree.Leaf(train.Features.AsSpan(r * m, m))];
                }
                roundTrees[k] = tree;
            }

            if (workers > 1)
                Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
                {
                    for (int k = w; k < outputs; k += workers) GrowOutput(growers[w], k);
                });
            else
                for (int k = 0; k < outputs; k++) GrowOutput(growers[0], k);
            trees.AddRange(roundTrees);

            double? metric = null;
            if (validation is not null)
            {
                AddTrees(validMargins!, validX!, validation.Rows, train.ColumnCount, roundTrees, outputs, options.Threads);
                metric = Evaluate(objective, validMargins!, validLabels!, outputs, options.HuberSlope);
                if (metric < bestMetric) { bestMetric = metric.Value; bestRound = round; }
            }
            onRound?.Invoke(new RoundReport(round, options.Rounds, objective.DefaultMetric, metric));
            if (options.EarlyStoppingRounds > 0 && validation is not null && round - bestRound >= options.EarlyStoppingRounds) break;
        }

        int best = -1;
        if (options.EarlyStoppingRounds > 0 && validation is not null && bestRound >= 0)
        {
            best = bestRound;
            trees.RemoveRange((bestRound + 1) * outputs, trees.Count - (bestRound + 1) * outputs);
        }
        return new BoostedTreesModel(options.Objective, options.HuberSlope, outputs, baseMargin, train.Columns, classNames,
            train.LabelName, trees, best);
    }

    private static double Median(double[] values)
    {
        var v = (double[])values.Clone();
        Array.Sort(v);
        return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }

    private static double[] CheckedLabels(TabularData data)
    {
        LabelEncoding.CheckFinite(data);
        return data.Labels;
    }

    /// <summary>A per-tree seed from (seed, round, output) by SplitMix64, stable across runtimes.</summary>
    internal static int TreeSeed(int seed, int round, int k)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)round * 0xBF58476D1CE4E5B9UL + (ulong)k * 0x94D049BB133111EBUL + 1;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    internal static int[] SampleFeatures(int[] all, double fraction, Random rng)
    {
        int keep = Math.Max(1, (int)Math.Round(fraction * all.Length));
        var copy = (int[])all.Clone();
        for (int i = 0; i < keep; i++)
        {
            int j = i + rng.Next(copy.Length - i);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        var result = copy[..keep];
        Array.Sort(result);
        return result;
    }

    /// <summary>
    /// reg:absoluteerror: each leaf becomes the median residual of its rows times the learning rate (XGBoost 1.7's
    /// adaptive leaves, except that 1.7 leaves out the learning rate; with learning_rate 1 the two agree).
    /// </summary>
    private static void RefitMedians(GrownTree grown, double[] labels, double[] margins, int outputs, int k, double eta)
    {
        var buffer = new List<double>();
        foreach (var (node, begin, end) in grown.LeafRanges)
        {
            if (end <= begin) { grown.Tree.Values[node] = 0; continue; }
            buffer.Clear();
            for (int i = begin; i < end; i++)
            {
                int r = grown.RowOrder[i];
                buffer.Add(labels[r] - margins[(long)r * outputs + k]);
            }
            buffer.Sort();
            int c = buffer.Count;
            double median = c % 2 == 1 ? buffer[c / 2] : 0.5 * (buffer[c / 2 - 1] + buffer[c / 2]);
            grown.Tree.Values[node] = eta * median;
        }
    }

    private static void AddTrees(double[] margins, float[] x, int rows, int m, DecisionTree[] trees, int outputs, int threads)
    {
        Parallel.For(0, (rows + 255) / 256, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
        {
            int r1 = Math.Min(rows, (b + 1) * 256);
            for (int r = b * 256; r < r1; r++)
            {
                var row = x.AsSpan(r * m, m);
                for (int k = 0; k < outputs; k++) margins[(long)r * outputs + k] += trees[k].Values[trees[k].Leaf(row)];
            }
        });
    }

    internal static double Evaluate(Objective objective, double[] margins, double[] labels, int outputs, double huberSlope)
    {
        var p = (double[])margins.Clone();
        objective.Transform(p, outputs);
        switch (objective.DefaultMetric)
        {
            case "logloss":
                return Metrics.LogLoss(p, labels.Select(v => (int)v).ToArray());
            case "mlogloss":
                return Metrics.MultiLogLoss(p, outputs, labels.Select(v => (int)v).ToArray());
            case "rmse":
                return Metrics.Rmse(p, labels);
            case "mae":
                return Metrics.Mae(p, labels);
            default:
                return Metrics.PseudoHuber(p, labels, huberSlope);
        }
    }
}
