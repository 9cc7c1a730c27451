using Tessera.Trees.Boosting;
using Tessera.Trees.Data;

namespace Tessera.Trees.Forest;

/// <summary>Random forest training (bootstrap + per-split feature sampling) with an out-of-bag score.</summary>
/// <example><code>
/// var forest = RandomForest.Train(train, new RandomForestOptions { Trees = 200 });
/// Console.WriteLine(forest.OobScore);   // OOB accuracy (classification) or R² (regression)
/// </code></example>
public static class RandomForest
{
    public static RandomForestModel Train(TabularData train, RandomForestOptions options)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.Rows == 0) throw new TabularDataException("the training data has no rows.");
        if (train.ColumnCount == 0) throw new TabularDataException("the training data has no feature columns.");
        int[]? classes = null;
        string[]? classNames = null;
        double[]? targets = null;
        if (options.Classification) (classes, classNames) = LabelEncoding.EncodeClasses(train);
        else { LabelEncoding.CheckFinite(train); targets = train.Labels; }
        int k = classNames?.Length ?? 0;
        int n = train.Rows;

        var binned = FeatureBinner.Fit(train, options.MaxBin, options.Threads);
        var trees = new DecisionTree[options.Trees];
        var inBag = new ulong[options.Trees][];
        int workers = Math.Min(options.Threads, options.Trees);
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            var builder = new ForestTreeBuilder(binned, classes, targets, k, options);
            var weight = new int[n];
            for (int t = w; t < options.Trees; t += workers)
            {
                var rng = new Random(GradientBooster.TreeSeed(options.Seed, t, 7919));
                var bag = new ulong[(n + 63) / 64];
                if (options.Bootstrap)
                {
                    Array.Clear(weight);
                    for (int i = 0; i < n; i++) weight[rng.Next(n)]++;
                }
                else Array.Fill(weight, 1);
                for (int r = 0; r < n; r++) if (weight[r] > 0) bag[r >> 6] |= 1UL << (r & 63);
                trees[t] = builder.Grow(weight, rng);
                inBag[t] = bag;
            }
        });

        var model = new RandomForestModel(options.Classification, train.Columns, classNames, train.LabelName, trees.ToList(), double.NaN);
        double oob = options.Bootstrap ? OutOfBagScore(model, train, inBag, classes, options.Threads) : double.NaN;
        return new RandomForestModel(options.Classification, train.Columns, classNames, train.LabelName, trees.ToList(), oob);
    }

    /// <summary>Accuracy (classification) or R² (regression) of each row predicted by the trees that did not see it.</summary>
    private static double OutOfBagScore(RandomForestModel model, TabularData train, ulong[][] inBag, int[]? classes, int threads)
    {
        int n = train.Rows, m = train.ColumnCount, outputs = model.Outputs;
        var sums = new double[(long)n * outputs];
        var votes = new int[n];
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = threads }, r =>
        {
            var row = train.Features.AsSpan(r * m, m);
            for (int t = 0; t < model.Trees.Count; t++)
            {
                if ((inBag[t][r >> 6] & (1UL << (r & 63))) != 0) continue;
                var tree = model.Trees[t];
                int leaf = tree.Leaf(row);
                for (int c = 0; c < outputs; c++) sums[(long)r * outputs + c] += tree.Values[leaf * outputs + c];
                votes[r]++;
            }
        });
        int scored = 0;
        if (classes is not null)
        {
            int correct = 0;
            for (int r = 0; r < n; r++)
            {
                if (votes[r] == 0) continue;
                scored++;
                int best = 0;
                for (int c = 1; c < outputs; c++) if (sums[(long)r * outputs + c] > sums[(long)r * outputs + best]) best = c;
                if (best == classes[r]) correct++;
            }
            return scored == 0 ? double.NaN : (double)correct / scored;
        }
        double sse = 0, sum = 0, sumSq = 0;
        for (int r = 0; r < n; r++)
        {
            if (votes[r] == 0) continue;
            scored++;
            double y = train.Labels[r], d = sums[r] / votes[r] - y;
            sse += d * d; sum += y; sumSq += y * y;
        }
        if (scored == 0) return double.NaN;
        double sst = sumSq - sum * sum / scored;
        return sst > 0 ? 1 - sse / sst : double.NaN;
    }
}
