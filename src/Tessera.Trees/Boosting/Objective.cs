namespace Tessera.Trees.Boosting;

/// <summary>A training loss: its gradients and hessians in margin space, and the map from margin to output.</summary>
/// <remarks>Formulas are XGBoost 1.7's, including its 2·p·(1-p) softmax hessian and 1e-16 hessian floor.</remarks>
internal abstract class Objective
{
    public abstract string Name { get; }
    public virtual bool IsClassification => false;
    /// <summary>Margins per row (number of classes for softmax, else 1).</summary>
    public virtual int Outputs(int classes) => 1;
    /// <summary>Name of the metric used for early stopping.</summary>
    public abstract string DefaultMetric { get; }
    /// <summary>Margin that corresponds to the base score.</summary>
    public virtual double BaseMargin(double baseScore) => baseScore;
    /// <summary>Writes (g, h) pairs of every row into gradHess[k] for each output k; margins are row-major (rows x outputs).</summary>
    public abstract void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess);
    /// <summary>Margins to predictions in place (probabilities or values).</summary>
    public virtual void Transform(Span<double> margins, int outputs) { }
    /// <summary>Leaf values refit after growth (absolute error: the median residual), or false to keep Newton steps.</summary>
    public virtual bool RefitsLeaves => false;

    public static Objective Create(string name, int classes, double huberSlope) => name switch
    {
        "binary:logistic" => new LogisticObjective(),
        "multi:softprob" => new SoftmaxObjective(name),
        "multi:softmax" => new SoftmaxObjective(name),
        "reg:squarederror" => new SquaredErrorObjective(),
        "reg:absoluteerror" => new AbsoluteErrorObjective(),
        "reg:pseudohubererror" or "reg:pseudohuber" => new PseudoHuberObjective(huberSlope),
        _ => throw new ArgumentException(
            $"unknown objective '{name}'; expected binary:logistic, multi:softprob, multi:softmax, reg:squarederror, reg:absoluteerror or reg:pseudohubererror."),
    };

    protected const double HessianFloor = 1e-16;
}

internal sealed class LogisticObjective : Objective
{
    public override string Name => "binary:logistic";
    public override bool IsClassification => true;
    public override string DefaultMetric => "logloss";
    public override double BaseMargin(double baseScore)
    {
        if (!(baseScore > 0 && baseScore < 1)) throw new ArgumentOutOfRangeException(nameof(baseScore), baseScore, "base_score must be in (0, 1) for binary:logistic.");
        return Math.Log(baseScore / (1 - baseScore));
    }
    public override void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess)
    {
        var gh = gradHess[0];
        for (int i = 0; i < labels.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-margins[i]));
            gh[2 * i] = p - labels[i];
            gh[2 * i + 1] = Math.Max(p * (1 - p), HessianFloor);
        }
    }
    public override void Transform(Span<double> margins, int outputs)
    {
        for (int i = 0; i < margins.Length; i++) margins[i] = 1 / (1 + Math.Exp(-margins[i]));
    }
}

internal sealed class SoftmaxObjective(string name) : Objective
{
    public override string Name => name;
    public override bool IsClassification => true;
    public override int Outputs(int classes) => classes;
    public override string DefaultMetric => "mlogloss";
    public override void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess)
    {
        Span<double> e = stackalloc double[outputs];
        for (int i = 0; i < labels.Length; i++)
        {
            var row = margins.Slice(i * outputs, outputs);
            double max = double.NegativeInfinity;
            for (int j = 0; j < outputs; j++) max = Math.Max(max, row[j]);
            double sum = 0;
            for (int j = 0; j < outputs; j++) { e[j] = Math.Exp(row[j] - max); sum += e[j]; }
            for (int k = 0; k < outputs; k++)
            {
                double p = e[k] / sum;
                gradHess[k][2 * i] = p - (labels[i] == k ? 1 : 0);
                gradHess[k][2 * i + 1] = Math.Max(2 * p * (1 - p), HessianFloor);
            }
        }
    }
    public override void Transform(Span<double> margins, int outputs)
    {
        for (int i = 0; i < margins.Length; i += outputs)
        {
            var row = margins.Slice(i, outputs);
            double max = double.NegativeInfinity;
            foreach (double v in row) max = Math.Max(max, v);
            double sum = 0;
            for (int j = 0; j < outputs; j++) { row[j] = Math.Exp(row[j] - max); sum += row[j]; }
            for (int j = 0; j < outputs; j++) row[j] /= sum;
        }
    }
}

internal sealed class SquaredErrorObjective : Objective
{
    public override string Name => "reg:squarederror";
    public override string DefaultMetric => "rmse";
    public override void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess)
    {
        var gh = gradHess[0];
        for (int i = 0; i < labels.Length; i++) { gh[2 * i] = margins[i] - labels[i]; gh[2 * i + 1] = 1; }
    }
}

internal sealed class AbsoluteErrorObjective : Objective
{
    public override string Name => "reg:absoluteerror";
    public override string DefaultMetric => "mae";
    public override bool RefitsLeaves => true;
    public override void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess)
    {
        var gh = gradHess[0];
        for (int i = 0; i < labels.Length; i++) { gh[2 * i] = Math.Sign(margins[i] - labels[i]); gh[2 * i + 1] = 1; }
    }
}

internal sealed class PseudoHuberObjective(double slope) : Objective
{
    public override string Name => "reg:pseudohubererror";
    public override string DefaultMetric => "mphe";
    public override void Gradients(ReadOnlySpan<double> margins, ReadOnlySpan<double> labels, int outputs, double[][] gradHess)
    {
        var gh = gradHess[0];
        double d2 = slope * slope;
        for (int i = 0; i < labels.Length; i++)
        {
            double z = margins[i] - labels[i];
            double scale = 1 + z * z / d2, scaleSqrt = Math.Sqrt(scale);
            gh[2 * i] = z / scaleSqrt;
            gh[2 * i + 1] = Math.Max(1 / (scale * scaleSqrt), HessianFloor);
        }
    }
}
