namespace Tessera.Trees;

/// <summary>Evaluation metrics. Probabilities are row-major (rows x classes) for multiclass, one per row for binary.</summary>
public static class Metrics
{
    private const double Eps = 1e-15;

    public static double Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> actual)
    {
        CheckLengths(predicted.Length, actual.Length);
        int ok = 0;
        for (int i = 0; i < actual.Length; i++) if (predicted[i] == actual[i]) ok++;
        return (double)ok / actual.Length;
    }

    /// <summary>Binary log-loss of P(class 1) against labels 0/1 (probabilities clipped to [1e-15, 1 − 1e-15], like sklearn).</summary>
    public static double LogLoss(ReadOnlySpan<double> p1, ReadOnlySpan<int> actual)
    {
        CheckLengths(p1.Length, actual.Length);
        double s = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double p = Math.Clamp(actual[i] == 1 ? p1[i] : 1 - p1[i], Eps, 1 - Eps);
            s -= Math.Log(p);
        }
        return s / actual.Length;
    }

    /// <summary>Multiclass log-loss of row-major probabilities (rows x classes).</summary>
    public static double MultiLogLoss(ReadOnlySpan<double> probabilities, int classes, ReadOnlySpan<int> actual)
    {
        CheckLengths(probabilities.Length, actual.Length * classes);
        double s = 0;
        for (int i = 0; i < actual.Length; i++)
            s -= Math.Log(Math.Clamp(probabilities[i * classes + actual[i]], Eps, 1 - Eps));
        return s / actual.Length;
    }

    /// <summary>Area under the ROC curve of scores against labels 0/1 (ties count one half).</summary>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<int> actual)
    {
        CheckLengths(scores.Length, actual.Length);
        int n = actual.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var sc = scores.ToArray();
        Array.Sort(order, (a, b) => sc[a].CompareTo(sc[b]));
        double rankSumPositive = 0;
        long positives = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && sc[order[j + 1]] == sc[order[i]]) j++;
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) if (actual[order[k]] == 1) { rankSumPositive += rank; positives++; }
            i = j + 1;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) return double.NaN;
        return (rankSumPositive - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }

    public static double Rmse(ReadOnlySpan<double> predicted, ReadOnlySpan<double> actual)
    {
        CheckLengths(predicted.Length, actual.Length);
        double s = 0;
        for (int i = 0; i < actual.Length; i++) { double d = predicted[i] - actual[i]; s += d * d; }
        return Math.Sqrt(s / actual.Length);
    }

    public static double Mae(ReadOnlySpan<double> predicted, ReadOnlySpan<double> actual)
    {
        CheckLengths(predicted.Length, actual.Length);
        double s = 0;
        for (int i = 0; i < actual.Length; i++) s += Math.Abs(predicted[i] - actual[i]);
        return s / actual.Length;
    }

    /// <summary>Mean pseudo-Huber error with slope δ.</summary>
    public static double PseudoHuber(ReadOnlySpan<double> predicted, ReadOnlySpan<double> actual, double slope)
    {
        CheckLengths(predicted.Length, actual.Length);
        double s = 0, d2 = slope * slope;
        for (int i = 0; i < actual.Length; i++) { double z = predicted[i] - actual[i]; s += d2 * (Math.Sqrt(1 + z * z / d2) - 1); }
        return s / actual.Length;
    }

    /// <summary>Index of the largest probability in each row.</summary>
    public static int[] ArgMax(ReadOnlySpan<double> probabilities, int classes)
    {
        var result = new int[probabilities.Length / classes];
        for (int i = 0; i < result.Length; i++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++) if (probabilities[i * classes + k] > probabilities[i * classes + best]) best = k;
            result[i] = best;
        }
        return result;
    }

    private static void CheckLengths(int a, int b)
    {
        if (a != b) throw new ArgumentException($"lengths differ: {a} predictions vs {b} expected.");
        if (a == 0) throw new ArgumentException("no rows to score.");
    }
}
