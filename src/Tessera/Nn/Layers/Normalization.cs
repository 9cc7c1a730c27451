using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>
/// Batch normalization over axis 1 of (N, C), (N, C, L) or (N, C, H, W) input. Training normalizes with the batch
/// statistics and updates running statistics after each step (momentum 0.1, unbiased variance, as PyTorch);
/// eval normalizes with the running statistics. Like PyTorch's state_dict it also carries the buffer
/// num_batches_tracked (an int64 scalar counting training steps), so checkpoints map one to one.
/// </summary>
public class BatchNorm : Module
{
    public BatchNorm(int numFeatures, double eps = 1e-5, double momentum = 0.1, DType dtype = DType.Float32)
    {
        if (numFeatures < 1) throw new ArgumentOutOfRangeException(nameof(numFeatures), $"BatchNorm: num_features must be ≥ 1, got {numFeatures}");
        NumFeatures = numFeatures; Eps = eps; Momentum = momentum;
        Weight = AddParameter("weight", Tensor.Ones(dtype, numFeatures));
        Bias = AddParameter("bias", Tensor.Zeros(dtype, numFeatures));
        RunningMean = AddParameter("running_mean", Tensor.Zeros(dtype, numFeatures), trainable: false);
        RunningVar = AddParameter("running_var", Tensor.Ones(dtype, numFeatures), trainable: false);
        NumBatchesTracked = AddParameter("num_batches_tracked", Tensor.Scalar(0L), trainable: false);
    }

    public int NumFeatures { get; }
    public double Eps { get; }
    public double Momentum { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public Parameter RunningMean { get; }
    public Parameter RunningVar { get; }
    public Parameter NumBatchesTracked { get; }

    public override Node Forward(Node x, ForwardContext ctx)
    {
        if (x.Rank < 2 || (x.Shape[1] != NumFeatures && x.Shape[1] != -1))
            throw new ShapeMismatchException("BatchNorm", $"input {ShapeMath.Format(x.Shape)} must have {NumFeatures} channels on axis 1");
        var axes = Enumerable.Range(0, x.Rank).Where(a => a != 1).ToArray();
        var perChannel = Enumerable.Repeat(1, x.Rank).ToArray();
        perChannel[1] = NumFeatures;
        Node Channel(Parameter p) => Ops.Reshape(ctx.Bind(p), perChannel);

        Node mean, variance;
        if (ctx.Training)
        {
            mean = Ops.Mean(x, axes, keepDims: true);
            var centered = Ops.Sub(x, mean);
            variance = Ops.Mean(Ops.Square(centered), axes, keepDims: true);
            var count = Ops.ReducedCount(x, axes);
            var m = mean; var v = variance;
            ctx.OnAfterStep(() => UpdateRunningStats(m.Value!, v.Value!, count.Value!.ToScalar()));
            var normalized = Ops.Div(centered, Ops.Sqrt(variance + Eps));
            return Ops.Add(Ops.Mul(normalized, Channel(Weight)), Channel(Bias));
        }
        mean = Channel(RunningMean);
        variance = Channel(RunningVar);
        var scale = Ops.Div(Channel(Weight), Ops.Sqrt(variance + Eps));
        return Ops.Add(Ops.Mul(Ops.Sub(x, mean), scale), Channel(Bias));
    }

    private void UpdateRunningStats(Tensor batchMean, Tensor batchVar, double count)
    {
        double unbias = count > 1 ? count / (count - 1) : 1;
        for (int c = 0; c < NumFeatures; c++)
        {
            RunningMean.Value.SetDouble(c, (1 - Momentum) * RunningMean.Value.GetDouble(c) + Momentum * batchMean.GetDouble(c));
            RunningVar.Value.SetDouble(c, (1 - Momentum) * RunningVar.Value.GetDouble(c) + Momentum * batchVar.GetDouble(c) * unbias);
        }
        NumBatchesTracked.Value.SetDouble(0, NumBatchesTracked.Value.GetDouble(0) + 1);
    }
}

/// <summary>BatchNorm over (N, C) or (N, C, L).</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double momentum = 0.1, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, dtype);

/// <summary>BatchNorm over (N, C, H, W).</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1, DType dtype = DType.Float32)
    : BatchNorm(numFeatures, eps, momentum, dtype);

/// <summary>Layer normalization over the trailing axes given by <c>normalizedShape</c>, with an elementwise affine.</summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d < 1))
            throw new ArgumentException($"LayerNorm: normalized_shape must be non-empty positive sizes, got [{string.Join(", ", normalizedShape)}].", nameof(normalizedShape));
        NormalizedShape = normalizedShape; Eps = eps;
        if (elementwiseAffine)
        {
            Weight = AddParameter("weight", Tensor.Ones(dtype, normalizedShape));
            Bias = AddParameter("bias", Tensor.Zeros(dtype, normalizedShape));
        }
    }

    public int[] NormalizedShape { get; }
    public double Eps { get; }
    public Parameter? Weight { get; }
    public Parameter? Bias { get; }

    public override Node Forward(Node x, ForwardContext ctx)
    {
        int k = NormalizedShape.Length;
        if (x.Rank < k || !x.Shape.Skip(x.Rank - k).Zip(NormalizedShape).All(p => p.First == p.Second || p.First == -1))
            throw new ShapeMismatchException("LayerNorm", $"input {ShapeMath.Format(x.Shape)} does not end with normalized shape {ShapeMath.Format(NormalizedShape)}");
        var axes = Enumerable.Range(x.Rank - k, k).ToArray();
        var mean = Ops.Mean(x, axes, keepDims: true);
        var centered = Ops.Sub(x, mean);
        var variance = Ops.Mean(Ops.Square(centered), axes, keepDims: true);
        var y = Ops.Div(centered, Ops.Sqrt(variance + Eps));
        if (Weight is not null) y = Ops.Add(Ops.Mul(y, ctx.Bind(Weight)), ctx.Bind(Bias!));
        return y;
    }
}
