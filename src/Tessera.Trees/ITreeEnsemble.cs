using Tessera.Trees.Data;

namespace Tessera.Trees;

/// <summary>What model selection and the CLI need from a trained ensemble (boosted trees or a forest).</summary>
public interface ITreeEnsemble
{
    bool IsClassification { get; }
    /// <summary>Class names by index (classification), else null.</summary>
    IReadOnlyList<string>? ClassLabels { get; }
    /// <summary>Class probabilities (rows x classes) for classification, values for regression.</summary>
    double[] PredictScores(TabularData data, int threads = 0);
    void Save(string path);
}

/// <summary>Held-out metrics of an ensemble: accuracy, log-loss and AUC (binary) for classifiers; RMSE and MAE for regressors.</summary>
public static class EnsembleEvaluation
{
    /// <summary>Metric name → value; lower is better except accuracy, auc and r2.</summary>
    public static Dictionary<string, double> Evaluate(ITreeEnsemble model, TabularData data, int threads = 0)
    {
        var scores = model.PredictScores(data, threads);
        var result = new Dictionary<string, double>();
        if (model.IsClassification)
        {
            int k = model.ClassLabels!.Count;
            var y = LabelEncoding.EncodeWith(data, model.ClassLabels);
            result["accuracy"] = Metrics.Accuracy(Metrics.ArgMax(scores, k), y);
            result["logloss"] = Metrics.MultiLogLoss(scores, k, y);
            if (k == 2)
            {
                var p1 = new double[data.Rows];
                for (int i = 0; i < p1.Length; i++) p1[i] = scores[2 * i + 1];
                result["auc"] = Metrics.Auc(p1, y);
            }
        }
        else
        {
            LabelEncoding.CheckFinite(data);
            result["rmse"] = Metrics.Rmse(scores, data.Labels);
            result["mae"] = Metrics.Mae(scores, data.Labels);
        }
        return result;
    }

    public static bool HigherIsBetter(string metric) => metric is "accuracy" or "auc" or "r2";
}
