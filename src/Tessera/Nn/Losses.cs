using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>Loss functions as graph builders, each reducing to the mean over the batch (PyTorch's default).</summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy from logits (N, C) and integer targets (N): −mean Σ_c q_c log softmax(x)_c with
    /// q = (1−ε)·onehot + ε/C (label smoothing ε, as PyTorch).
    /// </summary>
    public static Node CrossEntropy(Node logits, Node targets, double labelSmoothing = 0)
    {
        if (labelSmoothing is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label smoothing must be in [0, 1], got {labelSmoothing}");
        int classes = CheckClassification("CrossEntropy", logits, targets);
        var logp = Ops.LogSoftmax(logits, -1);
        var q = Ops.OneHot(targets, classes, logits.DType);
        if (labelSmoothing > 0) q = q * (1 - labelSmoothing) + labelSmoothing / classes;
        return Ops.Neg(Ops.Mean(Ops.Sum(Ops.Mul(q, logp), [-1])));
    }

    /// <summary>Negative log-likelihood of log-probabilities (N, C) at integer targets (N).</summary>
    public static Node Nll(Node logProbabilities, Node targets)
    {
        int classes = CheckClassification("Nll", logProbabilities, targets);
        var q = Ops.OneHot(targets, classes, logProbabilities.DType);
        return Ops.Neg(Ops.Mean(Ops.Sum(Ops.Mul(q, logProbabilities), [-1])));
    }

    /// <summary>Mean squared error.</summary>
    public static Node Mse(Node prediction, Node target) => Ops.Mean(Ops.Square(Ops.Sub(prediction, target)));

    /// <summary>Binary cross-entropy on logits: mean(softplus(x) − x·y), stable for large |x|.</summary>
    public static Node BceWithLogits(Node logits, Node target) => Ops.Mean(Ops.Sub(Ops.Softplus(logits), Ops.Mul(logits, target)));

    private static int CheckClassification(string loss, Node scores, Node targets)
    {
        if (scores.Rank != 2) throw new ShapeMismatchException(loss, $"scores {ShapeMath.Format(scores.Shape)} must be (N, C)");
        if (targets.Rank != 1) throw new ShapeMismatchException(loss, $"targets {ShapeMath.Format(targets.Shape)} must be (N,) class indices");
        if (scores.Shape[1] < 1) throw new ShapeMismatchException(loss, $"scores {ShapeMath.Format(scores.Shape)} have an unknown number of classes");
        return scores.Shape[1];
    }
}
