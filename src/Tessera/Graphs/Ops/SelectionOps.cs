namespace Tessera.Graphs;

/// <summary>
/// ONNX NonMaxSuppression: per batch and class, greedily keeps the highest-scoring boxes whose IoU with every kept
/// box is at most the threshold. Inputs: boxes (B, N, 4), scores (B, C, N), then optional max_output_boxes_per_class,
/// iou_threshold, score_threshold (as tensors). Output (selected, 3) int64 rows (batch, class, box).
/// </summary>
public sealed class NonMaxSuppressionOp(bool centerPointBox) : Operation
{
    public override string Name => "NonMaxSuppression";
    public override bool ValueDependentShape => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(DType.Int64, [-1, 3]);

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs, ReadOnlySpan<Tensor?> values)
    {
        foreach (var v in values) if (v is null) return InferType(inputs);
        return new TensorType(DType.Int64, [Select(values!).Count, 3]);
    }

    private List<(int B, int C, int Box)> Select(ReadOnlySpan<Tensor?> v)
    {
        var boxes = v[0]!; var scores = v[1]!;
        long maxOut = v.Length > 2 && v[2]!.Length > 0 ? (long)v[2]!.GetDouble(0) : 0;
        double iouMax = v.Length > 3 && v[3]!.Length > 0 ? v[3]!.GetDouble(0) : 0;
        double? scoreMin = v.Length > 4 && v[4]!.Length > 0 ? v[4]!.GetDouble(0) : null;
        int batches = scores.Shape[0], classes = scores.Shape[1], n = scores.Shape[2];
        var result = new List<(int, int, int)>();
        for (int b = 0; b < batches; b++)
            for (int c = 0; c < classes; c++)
            {
                var order = Enumerable.Range(0, n)
                    .Select(i => (I: i, S: scores.GetDouble((b * classes + c) * n + i)))
                    .Where(p => scoreMin is not double m || p.S > m)
                    .OrderByDescending(p => p.S).ThenBy(p => p.I).ToList();
                var kept = new List<int>();
                foreach (var (i, _) in order)
                {
                    if (kept.Count >= maxOut) break;
                    if (kept.All(k => Iou(boxes, b, n, i, k) <= iouMax)) kept.Add(i);
                }
                foreach (var k in kept) result.Add((b, c, k));
            }
        return result;
    }

    private double Iou(Tensor boxes, int b, int n, int i, int j)
    {
        var (ay1, ax1, ay2, ax2) = Corners(boxes, (b * n + i) * 4);
        var (by1, bx1, by2, bx2) = Corners(boxes, (b * n + j) * 4);
        double ih = Math.Max(0, Math.Min(ay2, by2) - Math.Max(ay1, by1)), iw = Math.Max(0, Math.Min(ax2, bx2) - Math.Max(ax1, bx1));
        double inter = ih * iw, union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    private (double Y1, double X1, double Y2, double X2) Corners(Tensor t, int o)
    {
        double a = t.GetDouble(o), b = t.GetDouble(o + 1), c = t.GetDouble(o + 2), d = t.GetDouble(o + 3);
        if (centerPointBox) return (b - d / 2, a - c / 2, b + d / 2, a + c / 2);
        return (Math.Min(a, c), Math.Min(b, d), Math.Max(a, c), Math.Max(b, d));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var vals = new Tensor?[inputs.Length];
        for (int i = 0; i < vals.Length; i++) vals[i] = inputs[i];
        var sel = Select(vals);
        var y = output.AsSpan<long>();
        for (int i = 0; i < sel.Count; i++) { y[3 * i] = sel[i].B; y[3 * i + 1] = sel[i].C; y[3 * i + 2] = sel[i].Box; }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null, null];
}

/// <summary>
/// ONNX Unique: distinct elements (or slices along an axis), sorted or in first-occurrence order. Output 0 the
/// unique values, 1 the index of each one's first occurrence, 2 for each input element (slice) its unique's index,
/// 3 the counts.
/// </summary>
public sealed class UniqueOp(int? axis, bool sorted, int output) : Operation
{
    public override string Name => "Unique";
    public override bool ValueDependentShape => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (output != 0) return new TensorType(DType.Int64, [-1]);
        if (axis is null) return new TensorType(inputs[0].DType, [-1]);
        var s = (int[])inputs[0].Shape.Clone();
        s[ShapeMath.NormalizeAxis(axis.Value, s.Length, Name)] = -1;
        return new TensorType(inputs[0].DType, s);
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs, ReadOnlySpan<Tensor?> values)
    {
        if (values[0] is not { } x) return InferType(inputs);
        var (uniques, _, inverse) = Compute(x);
        if (output == 2) return new TensorType(DType.Int64, [inverse.Length]);
        if (output != 0) return new TensorType(DType.Int64, [uniques.Count]);
        if (axis is null) return new TensorType(x.DType, [uniques.Count]);
        var s = x.ShapeArray();
        s[ShapeMath.NormalizeAxis(axis.Value, s.Length, Name)] = uniques.Count;
        return new TensorType(x.DType, s);
    }

    /// <summary>Slices of x along the axis as value arrays (elements when there is no axis).</summary>
    private List<double[]> Slices(Tensor x, out int a, out int outer, out int inner)
    {
        var slices = new List<double[]>();
        if (axis is null)
        {
            a = -1; outer = 1; inner = 1;
            for (int i = 0; i < x.Length; i++) slices.Add([x.GetDouble(i)]);
            return slices;
        }
        a = ShapeMath.NormalizeAxis(axis.Value, x.Rank, Name);
        int n; (outer, n, inner) = GatherOp.Blocks(x.Shape, a);
        for (int j = 0; j < n; j++)
        {
            var s = new double[outer * inner];
            for (int o = 0; o < outer; o++) for (int i = 0; i < inner; i++) s[o * inner + i] = x.GetDouble((o * n + j) * inner + i);
            slices.Add(s);
        }
        return slices;
    }

    private (List<int> Uniques, List<int> Counts, int[] Inverse) Compute(Tensor x)
    {
        var slices = Slices(x.Contiguous(), out _, out _, out _);
        var first = new List<int>();
        var inverse = new int[slices.Count];
        for (int j = 0; j < slices.Count; j++)
        {
            int k = first.FindIndex(f => slices[f].AsSpan().SequenceEqual(slices[j]));
            if (k < 0) { k = first.Count; first.Add(j); }
            inverse[j] = k;
        }
        var order = Enumerable.Range(0, first.Count).ToList();
        if (sorted) order.Sort((p, q) => Lexicographic(slices[first[p]], slices[first[q]]));
        var rank = new int[order.Count];
        for (int i = 0; i < order.Count; i++) rank[order[i]] = i;
        var counts = new int[first.Count];
        foreach (var k in inverse) counts[k]++;
        return ([.. order.Select(o => first[o])], [.. order.Select(o => counts[o])], [.. inverse.Select(k => rank[k])]);
    }

    private static int Lexicographic(double[] p, double[] q)
    {
        for (int i = 0; i < p.Length; i++) { int c = p[i].CompareTo(q[i]); if (c != 0) return c; }
        return 0;
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous();
        var (uniques, counts, inverse) = Compute(x);
        switch (output)
        {
            case 1: for (int i = 0; i < uniques.Count; i++) y.SetDouble(i, uniques[i]); break;
            case 2: for (int i = 0; i < inverse.Length; i++) y.SetDouble(i, inverse[i]); break;
            case 3: for (int i = 0; i < counts.Count; i++) y.SetDouble(i, counts[i]); break;
            default:
            {
                var slices = Slices(x, out int a, out int outer, out int inner);
                if (a < 0) { for (int i = 0; i < uniques.Count; i++) y.SetDouble(i, slices[uniques[i]][0]); break; }
                int m = uniques.Count;
                for (int j = 0; j < m; j++)
                    for (int o = 0; o < outer; o++) for (int i = 0; i < inner; i++) y.SetDouble((o * m + j) * inner + i, slices[uniques[j]][o * inner + i]);
                break;
            }
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>
/// ONNX Dropout with run-time ratio and training_mode inputs: the identity (mask all true) in inference or at ratio 0.
/// Random dropping in training mode is not supported here (Nn's DropoutMaskOp serves training).
/// </summary>
public sealed class InferenceDropoutOp(int output) : Operation
{
    public override string Name => "Dropout";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(output == 0 ? inputs[0].DType : DType.Bool, inputs[0].Shape);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        double ratio = inputs.Length > 1 && inputs[1].Length > 0 ? inputs[1].GetDouble(0) : 0.5;
        bool training = inputs.Length > 2 && inputs[2].Length > 0 && inputs[2].GetDouble(0) != 0;
        if (training && ratio != 0) throw new NotSupportedException("Dropout: random dropping in training mode is not supported for ONNX models.");
        if (output == 0) inputs[0].CopyTo(y); else y.Fill(1);
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Dropout (ONNX) has no gradient rule.");
}

/// <summary>
/// ONNX MaxUnpool: zeros of the output shape with each value written at its index. Indices are flat positions in the
/// tensor MaxPool saw (<paramref name="pooledFrom"/>); a larger output_shape places them by their coordinates.
/// </summary>
public sealed class MaxUnpoolOp(int[] outputShape, int[]? pooledFrom = null) : Operation
{
    public override string Name => "MaxUnpool";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (outputShape.Any(d => d < 0)) throw new ShapeMismatchException(Name, $"output shape {ShapeMath.Format(outputShape)} is negative");
        return new TensorType(inputs[0].DType, (int[])outputShape.Clone());
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        y.Fill(0);
        for (int i = 0; i < inputs[0].Length; i++)
        {
            long k = (long)inputs[1].GetDouble(i);
            if (pooledFrom is not null)
            {
                // Coordinates in the pooled-from tensor, re-flattened in the output's shape.
                long rem = k, flat = 0, scale = 1;
                var coords = new long[pooledFrom.Length];
                for (int d = pooledFrom.Length - 1; d >= 0; d--) { coords[d] = rem % pooledFrom[d]; rem /= pooledFrom[d]; }
                for (int d = outputShape.Length - 1; d >= 0; d--) { flat += coords[d] * scale; scale *= outputShape[d]; }
                k = flat;
            }
            if (k < 0 || k >= y.Length) throw new IndexOutOfRangeException($"{Name}: index {k} is outside the output of {y.Length} elements.");
            y.SetDouble((int)k, inputs[0].GetDouble(i));
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("MaxUnpool has no gradient rule.");
}
