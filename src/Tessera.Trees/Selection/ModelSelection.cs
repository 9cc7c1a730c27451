using System.Globalization;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;

namespace Tessera.Trees.Selection;

/// <summary>Mean and standard deviation (sample, n−1) of each metric over cross-validation folds.</summary>
public sealed record CrossValidationResult(IReadOnlyDictionary<string, double> Mean, IReadOnlyDictionary<string, double> Std,
    IReadOnlyList<IReadOnlyDictionary<string, double>> Folds)
{
    public string Format(string metric) =>
        string.Create(CultureInfo.InvariantCulture, $"{metric} {Mean[metric]:F4} ± {Std[metric]:F4}");
}

/// <summary>One parameter setting of a search and its cross-validated scores.</summary>
public sealed record SearchTrial(IReadOnlyDictionary<string, string> Parameters, CrossValidationResult Scores);

/// <summary>All trials, and the best by the chosen metric.</summary>
public sealed record SearchResult(string Metric, IReadOnlyList<SearchTrial> Trials, SearchTrial Best);

/// <summary>
/// k-fold cross-validation (stratified for classifiers), grid search and random search over hyper-parameters
/// given as text ("max_depth=4,6;learning_rate=0.1,0.3").
/// </summary>
/// <example><code>
/// var cv = ModelSelection.CrossValidate(data, d => GradientBooster.Train(d, options), isClassification: true, folds: 5);
/// Console.WriteLine(cv.Format("accuracy"));   // accuracy 0.9614 ± 0.0121
/// </code></example>
public static class ModelSelection
{
    public static CrossValidationResult CrossValidate(TabularData data, Func<TabularData, ITreeEnsemble> fit, bool isClassification,
        int folds = 5, int seed = 0)
    {
        IReadOnlyList<int>? classes = isClassification ? LabelEncoding.EncodeClasses(data).Classes : null;
        var scores = new List<IReadOnlyDictionary<string, double>>();
        foreach (var (train, test) in DataSplits.KFold(data.Rows, folds, seed, classes))
        {
            var model = fit(data.Subset(train));
            scores.Add(EnsembleEvaluation.Evaluate(model, data.Subset(test)));
        }
        return Summarise(scores);
    }

    internal static CrossValidationResult Summarise(List<IReadOnlyDictionary<string, double>> folds)
    {
        var mean = new Dictionary<string, double>();
        var std = new Dictionary<string, double>();
        foreach (var key in folds[0].Keys)
        {
            var v = folds.Select(f => f[key]).ToArray();
            double m = v.Average();
            mean[key] = m;
            std[key] = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)) : 0;
        }
        return new CrossValidationResult(mean, std, folds);
    }

    /// <summary>Parses "name=v1,v2;name2=a,b" (also "name=lo:hi" ranges for random search).</summary>
    public static IReadOnlyDictionary<string, string[]> ParseGrid(string spec)
    {
        var grid = new Dictionary<string, string[]>();
        foreach (var part in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || eq == part.Length - 1)
                throw new ArgumentException($"grid entry '{part}' should look like name=value1,value2.");
            string name = part[..eq].Trim();
            var values = part[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (values.Length == 0) throw new ArgumentException($"grid entry '{part}' has no values.");
            grid[name] = values;
        }
        if (grid.Count == 0) throw new ArgumentException($"grid '{spec}' names no parameters.");
        return grid;
    }

    /// <summary>Every combination of the grid's values, first parameter varying slowest.</summary>
    public static IEnumerable<IReadOnlyDictionary<string, string>> GridCombinations(IReadOnlyDictionary<string, string[]> grid)
    {
        IEnumerable<Dictionary<string, string>> acc = [new Dictionary<string, string>()];
        foreach (var (name, values) in grid)
            acc = acc.SelectMany(d => values.Select(v => new Dictionary<string, string>(d) { [name] = v })).ToList();
        return acc;
    }

    /// <summary>
    /// <paramref name="count"/> random settings: each parameter draws one of its listed values, or uniformly from
    /// "lo:hi" (integers when both ends are integers).
    /// </summary>
    public static IEnumerable<IReadOnlyDictionary<string, string>> RandomCombinations(IReadOnlyDictionary<string, string[]> grid, int count, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            var d = new Dictionary<string, string>();
            foreach (var (name, values) in grid)
            {
                string v = values[rng.Next(values.Length)];
                var range = v.Split(':');
                if (range.Length == 2)
                {
                    if (long.TryParse(range[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long lo) &&
                        long.TryParse(range[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long hi))
                        v = rng.NextInt64(lo, hi + 1).ToString(CultureInfo.InvariantCulture);
                    else
                    {
                        double a = ParseDouble(name, range[0]), b = ParseDouble(name, range[1]);
                        v = (a + rng.NextDouble() * (b - a)).ToString("G6", CultureInfo.InvariantCulture);
                    }
                }
                d[name] = v;
            }
            yield return d;
        }
    }

    /// <summary>Cross-validates every setting; the best has the highest accuracy/AUC or the lowest loss.</summary>
    public static SearchResult Search(TabularData data, IEnumerable<IReadOnlyDictionary<string, string>> settings,
        Func<IReadOnlyDictionary<string, string>, TabularData, ITreeEnsemble> fit, bool isClassification, string metric, int folds, int seed,
        Action<SearchTrial>? onTrial = null)
    {
        var trials = new List<SearchTrial>();
        foreach (var p in settings)
        {
            var cv = CrossValidate(data, d => fit(p, d), isClassification, folds, seed);
            if (!cv.Mean.ContainsKey(metric))
                throw new ArgumentException($"metric '{metric}' is not reported here; choose one of {string.Join(", ", cv.Mean.Keys)}.");
            var trial = new SearchTrial(p, cv);
            trials.Add(trial);
            onTrial?.Invoke(trial);
        }
        if (trials.Count == 0) throw new ArgumentException("the search has no settings to try.");
        bool higher = EnsembleEvaluation.HigherIsBetter(metric);
        var best = trials[0];
        foreach (var t in trials.Skip(1))
            if (higher ? t.Scores.Mean[metric] > best.Scores.Mean[metric] : t.Scores.Mean[metric] < best.Scores.Mean[metric]) best = t;
        return new SearchResult(metric, trials, best);
    }

    /// <summary>Applies XGBoost-named parameters (max_depth, learning_rate/eta, n_estimators/rounds, reg_lambda, ...) to options.</summary>
    public static BoosterOptions Apply(BoosterOptions o, IReadOnlyDictionary<string, string> p)
    {
        foreach (var (name, v) in p)
        {
            o = name switch
            {
                "max_depth" => o with { MaxDepth = ParseInt(name, v) },
                "learning_rate" or "eta" => o with { LearningRate = ParseDouble(name, v) },
                "n_estimators" or "rounds" or "num_boost_round" => o with { Rounds = ParseInt(name, v) },
                "max_leaves" => o with { MaxLeaves = ParseInt(name, v) },
                "min_child_weight" => o with { MinChildWeight = ParseDouble(name, v) },
                "reg_lambda" or "lambda" => o with { Lambda = ParseDouble(name, v) },
                "reg_alpha" or "alpha" => o with { Alpha = ParseDouble(name, v) },
                "gamma" or "min_split_loss" => o with { Gamma = ParseDouble(name, v) },
                "subsample" => o with { Subsample = ParseDouble(name, v) },
                "colsample_bytree" => o with { ColsampleByTree = ParseDouble(name, v) },
                "colsample_bynode" => o with { ColsampleByNode = ParseDouble(name, v) },
                "max_bin" => o with { MaxBin = ParseInt(name, v) },
                "grow_policy" => o with { GrowPolicy = v is "lossguide" or "leafwise" ? GrowPolicy.LeafWise : GrowPolicy.DepthWise },
                "max_delta_step" => o with { MaxDeltaStep = ParseDouble(name, v) },
                _ => throw new ArgumentException($"unknown boosting parameter '{name}'."),
            };
        }
        return o;
    }

    /// <summary>Applies sklearn-named parameters (n_estimators, max_depth, max_features, min_samples_leaf, ...) to forest options.</summary>
    public static RandomForestOptions Apply(RandomForestOptions o, IReadOnlyDictionary<string, string> p)
    {
        foreach (var (name, v) in p)
        {
            o = name switch
            {
                "n_estimators" or "trees" => o with { Trees = ParseInt(name, v) },
                "max_depth" => o with { MaxDepth = ParseInt(name, v) },
                "max_features" => o with { MaxFeatures = v == "sqrt" ? null : ParseDouble(name, v) },
                "min_samples_leaf" => o with { MinSamplesLeaf = ParseInt(name, v) },
                "min_samples_split" => o with { MinSamplesSplit = ParseInt(name, v) },
                "max_bin" => o with { MaxBin = ParseInt(name, v) },
                _ => throw new ArgumentException($"unknown forest parameter '{name}'."),
            };
        }
        return o;
    }

    private static int ParseInt(string name, string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) ? x : throw new ArgumentException($"{name}: '{v}' is not an integer.");

    private static double ParseDouble(string name, string v) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : throw new ArgumentException($"{name}: '{v}' is not a number.");
}
