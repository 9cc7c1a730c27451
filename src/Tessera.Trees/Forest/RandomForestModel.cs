using Tessera.Trees.Data;

namespace Tessera.Trees.Forest;

/// <summary>A trained random forest: averages the trees' leaf class distributions (or values).</summary>
public sealed class RandomForestModel : ITreeEnsemble
{
    internal RandomForestModel(bool classification, IReadOnlyList<FeatureColumn> columns, IReadOnlyList<string>? classLabels,
        string labelName, List<DecisionTree> trees, double oobScore)
    {
        IsClassification = classification;
        Columns = columns;
        ClassLabels = classLabels;
        LabelName = labelName;
        Trees = trees;
        OobScore = oobScore;
    }

    public bool IsClassification { get; }
    public IReadOnlyList<FeatureColumn> Columns { get; }
    public IReadOnlyList<string>? ClassLabels { get; }
    public string LabelName { get; }
    public IReadOnlyList<DecisionTree> Trees { get; }
    /// <summary>Out-of-bag accuracy (classification) or R² (regression); NaN without bootstrap.</summary>
    public double OobScore { get; }
    public int Outputs => IsClassification ? ClassLabels!.Count : 1;

    /// <summary>Class probabilities (rows x classes) or predicted values.</summary>
    public double[] PredictScores(TabularData data, int threads = 0) =>
        PredictScores(FeatureAlignment.Align(Columns, data), data.Rows, threads);

    /// <summary>
    /// <see cref="PredictScores(TabularData, int)"/> for rows already in the model's column order: row-major
    /// (rows x <c>Columns.Count</c>), NaN = missing, categorical columns as training category codes. For callers that
    /// hold their own feature buffers (serving): no table is built.
    /// </summary>
    public double[] PredictScores(float[] features, int rows, int threads = 0)
    {
        Boosting.BoostedTreesModel.CheckFeatures(features, rows, Columns.Count);
        var result = new double[(long)rows * Outputs];
        TreeEvaluation.AddAll(Packed, features, Columns.Count, rows, Outputs, 1.0 / Trees.Count, result,
            threads > 0 ? threads : Environment.ProcessorCount);
        return result;
    }

    /// <summary>The trees flattened for batch prediction, built on first use.</summary>
    internal PackedEnsemble Packed => _packed ??= new PackedEnsemble(Trees);
    private PackedEnsemble? _packed;

    public int[] PredictClasses(TabularData data, int threads = 0) => Metrics.ArgMax(PredictScores(data, threads), Outputs);

    /// <summary>Mean decrease in impurity per feature, normalised to sum to 1 (sklearn's feature_importances_).</summary>
    public IReadOnlyDictionary<string, double> FeatureImportance()
    {
        var total = new double[Columns.Count];
        foreach (var t in Trees)
        {
            var perTree = new double[Columns.Count];
            for (int i = 0; i < t.NodeCount; i++) if (t.Left[i] >= 0) perTree[t.Feature[i]] += t.Gain[i];
            double s = perTree.Sum();
            if (s > 0) for (int f = 0; f < total.Length; f++) total[f] += perTree[f] / s;
        }
        double all = total.Sum();
        var result = new Dictionary<string, double>();
        for (int f = 0; f < total.Length; f++) if (total[f] > 0) result[Columns[f].Name] = total[f] / all;
        return result;
    }

    public void Save(string path) => ModelJson.Write(path, new ModelDocument
    {
        Kind = "random_forest", Objective = IsClassification ? "classification" : "regression", Outputs = Outputs,
        Label = LabelName, ClassLabels = ClassLabels?.ToList(), Columns = Columns.Select(ColumnDocument.From).ToList(),
        Trees = Trees.Select(TreeDocument.From).ToList(), OobScore = OobScore,
    });

    public static RandomForestModel Load(string path)
    {
        var d = ModelJson.Read(path, "random_forest");
        var columns = d.Columns.Select(c => c.ToColumn()).ToArray();
        var trees = d.Trees.Select((t, i) => t.ToTree(columns.Length, i)).ToList();
        return new RandomForestModel(d.Objective == "classification", columns, d.ClassLabels, d.Label, trees, d.OobScore ?? double.NaN);
    }
}
