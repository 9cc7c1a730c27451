using Tessera.Trees.Data;

namespace Tessera.Trees.Boosting;

/// <summary>What <see cref="BoostedTreesModel.FeatureImportance"/> measures.</summary>
public enum ImportanceType
{
    /// <summary>Number of splits on the feature (XGBoost "weight").</summary>
    SplitCount,
    /// <summary>Sum of loss reductions of its splits ("total_gain").</summary>
    TotalGain,
    /// <summary>Mean loss reduction per split ("gain").</summary>
    Gain,
}

/// <summary>A trained gradient-boosted tree ensemble: predicts, reports feature importance, saves to JSON.</summary>
/// <example><code>
/// var model = GradientBooster.Train(train, new BoosterOptions { Objective = "binary:logistic" });
/// double[] p = model.Predict(test);          // P(class 1) per row
/// model.Save("model.json");
/// </code></example>
public sealed class BoostedTreesModel : ITreeEnsemble
{
    private readonly Objective _objective;

    internal BoostedTreesModel(string objective, double huberSlope, int outputs, double baseMargin, IReadOnlyList<FeatureColumn> columns,
        IReadOnlyList<string>? classLabels, string labelName, List<DecisionTree> trees, int bestIteration)
    {
        _objective = Objective.Create(objective, Math.Max(2, outputs), huberSlope);
        ObjectiveName = _objective.Name == "multi:softprob" || _objective.Name == "multi:softmax" ? objective : _objective.Name;
        HuberSlope = huberSlope;
        Outputs = outputs;
        BaseMargin = baseMargin;
        Columns = columns;
        ClassLabels = classLabels;
        LabelName = labelName;
        Trees = trees;
        BestIteration = bestIteration;
    }

    public string ObjectiveName { get; }
    public double HuberSlope { get; }
    /// <summary>Margins per row: the number of classes for softmax objectives, else 1.</summary>
    public int Outputs { get; }
    public double BaseMargin { get; }
    public IReadOnlyList<FeatureColumn> Columns { get; }
    /// <summary>Class names by index for classification objectives; null for regression.</summary>
    public IReadOnlyList<string>? ClassLabels { get; }
    public string LabelName { get; }
    /// <summary>Trees in boosting order; tree i adds to output i % Outputs.</summary>
    public IReadOnlyList<DecisionTree> Trees { get; }
    /// <summary>Round with the best validation metric when early stopping ran (trees after it were dropped), else -1.</summary>
    public int BestIteration { get; }
    public int Rounds => Trees.Count / Outputs;
    public bool IsClassification => _objective.IsClassification;
    public int ClassCount => ClassLabels?.Count ?? 0;

    /// <summary>Raw margins, row-major (rows x Outputs). Columns are matched to training columns by name.</summary>
    public double[] PredictMargins(TabularData data, int threads = 0) =>
        PredictMargins(FeatureAlignment.Align(Columns, data), data.Rows, threads);

    /// <summary>
    /// Raw margins for rows already in the model's column order: <paramref name="features"/> is row-major
    /// (rows x <c>Columns.Count</c>), NaN marks a missing value, a categorical column holds the training category
    /// code. The batch entry point for callers that hold their own feature buffers (serving): no table is built.
    /// </summary>
    public double[] PredictMargins(float[] features, int rows, int threads = 0)
    {
        CheckFeatures(features, rows, Columns.Count);
        int k = Outputs;
        var margins = new double[(long)rows * k];
        Array.Fill(margins, BaseMargin);
        int t = threads > 0 ? threads : Environment.ProcessorCount;
        TreeEvaluation.AddAll(Packed, features, Columns.Count, rows, k, 1.0, margins, t);
        return margins;
    }

    /// <summary>The trees flattened for batch prediction, built on first use.</summary>
    internal PackedEnsemble Packed => _packed ??= new PackedEnsemble(Trees);
    private PackedEnsemble? _packed;

    internal static void CheckFeatures(float[] features, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "rows must be >= 0.");
        if (features.Length != (long)rows * columns)
            throw new ArgumentException($"{rows} rows of {columns} features need {(long)rows * columns} values; got {features.Length}.", nameof(features));
    }

    /// <summary>
    /// Predictions in output space: P(class 1) per row for binary:logistic, class probabilities (rows x classes)
    /// for multi:softprob, the class index for multi:softmax, values for regression.
    /// </summary>
    public double[] Predict(TabularData data, int threads = 0) => ToPredictions(PredictMargins(data, threads));

    /// <summary><see cref="Predict(TabularData, int)"/> for rows in the model's column order (see <see cref="PredictMargins(float[], int, int)"/>).</summary>
    public double[] Predict(float[] features, int rows, int threads = 0) => ToPredictions(PredictMargins(features, rows, threads));

    private double[] ToPredictions(double[] m)
    {
        _objective.Transform(m, Outputs);
        if (ObjectiveName == "multi:softmax") return Metrics.ArgMax(m, Outputs).Select(c => (double)c).ToArray();
        return m;
    }

    /// <summary>Class probabilities, row-major (rows x classes), for classification objectives.</summary>
    public double[] PredictProbabilities(TabularData data, int threads = 0)
    {
        if (!IsClassification) throw new InvalidOperationException($"{ObjectiveName} is not a classification objective.");
        return ToProbabilities(PredictMargins(data, threads), data.Rows);
    }

    /// <summary><see cref="PredictProbabilities(TabularData, int)"/> for rows in the model's column order.</summary>
    public double[] PredictProbabilities(float[] features, int rows, int threads = 0)
    {
        if (!IsClassification) throw new InvalidOperationException($"{ObjectiveName} is not a classification objective.");
        return ToProbabilities(PredictMargins(features, rows, threads), rows);
    }

    private double[] ToProbabilities(double[] m, int rows)
    {
        _objective.Transform(m, Outputs);
        if (Outputs > 1) return m;
        var p = new double[rows * 2];
        for (int i = 0; i < rows; i++) { p[2 * i] = 1 - m[i]; p[2 * i + 1] = m[i]; }
        return p;
    }

    /// <summary>Class probabilities (rows x classes) for classifiers, predicted values for regressors.</summary>
    public double[] PredictScores(TabularData data, int threads = 0) => IsClassification ? PredictProbabilities(data, threads) : Predict(data, threads);

    /// <summary><see cref="PredictScores(TabularData, int)"/> for rows in the model's column order.</summary>
    public double[] PredictScores(float[] features, int rows, int threads = 0) =>
        IsClassification ? PredictProbabilities(features, rows, threads) : Predict(features, rows, threads);

    /// <summary>Most probable class index per row.</summary>
    public int[] PredictClasses(TabularData data, int threads = 0) => Metrics.ArgMax(PredictProbabilities(data, threads), ClassCount);

    /// <summary>Importance per feature name (features never split on are absent).</summary>
    public IReadOnlyDictionary<string, double> FeatureImportance(ImportanceType type = ImportanceType.Gain)
    {
        var count = new double[Columns.Count];
        var gain = new double[Columns.Count];
        foreach (var tree in Trees)
            for (int i = 0; i < tree.NodeCount; i++)
                if (tree.Left[i] >= 0) { count[tree.Feature[i]]++; gain[tree.Feature[i]] += tree.Gain[i]; }
        var result = new Dictionary<string, double>();
        for (int f = 0; f < Columns.Count; f++)
        {
            if (count[f] == 0) continue;
            result[Columns[f].Name] = type switch
            {
                ImportanceType.SplitCount => count[f],
                ImportanceType.TotalGain => gain[f],
                _ => gain[f] / count[f],
            };
        }
        return result;
    }

    public void Save(string path) => ModelJson.Write(path, new ModelDocument
    {
        Kind = "gradient_boosting", Objective = ObjectiveName, Outputs = Outputs, BaseMargin = BaseMargin, HuberSlope = HuberSlope,
        Label = LabelName, ClassLabels = ClassLabels?.ToList(), Columns = Columns.Select(ColumnDocument.From).ToList(),
        Trees = Trees.Select(TreeDocument.From).ToList(), BestIteration = BestIteration,
    });

    public static BoostedTreesModel Load(string path)
    {
        var d = ModelJson.Read(path, "gradient_boosting");
        var columns = d.Columns.Select(c => c.ToColumn()).ToArray();
        if (d.Outputs < 1 || d.Trees.Count % d.Outputs != 0) throw new InvalidDataException($"'{path}': {d.Trees.Count} trees do not fill {d.Outputs} outputs.");
        var trees = d.Trees.Select((t, i) => t.ToTree(columns.Length, i)).ToList();
        return new BoostedTreesModel(d.Objective, d.HuberSlope, d.Outputs, d.BaseMargin, columns, d.ClassLabels, d.Label, trees, d.BestIteration);
    }
}
