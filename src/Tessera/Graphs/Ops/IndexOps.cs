namespace Tessera.Graphs;

/// <summary>Index of the largest (or smallest) element along an axis; ties go to the first, or the last with <see cref="SelectLast"/>.</summary>
public sealed class ArgExtremeOp(bool max, int axis, bool keepDims, bool selectLast) : AxesOp([axis], keepDims)
{
    public bool IsMax { get; } = max;
    public bool SelectLast { get; } = selectLast;
    public override string Name => IsMax ? "ArgMax" : "ArgMin";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        return new TensorType(DType.Int64, ReducedShape(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int axis = ResolveAxes(x.Rank)[0];
        var (outer, n, inner) = GatherOp.Blocks(x.Shape, axis);
        var y = output.AsSpan<long>();
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0; double bv = x.GetDouble(o * n * inner + i);
                for (int j = 1; j < n; j++)
                {
                    double v = x.GetDouble((o * n + j) * inner + i);
                    bool better = IsMax ? (SelectLast ? v >= bv : v > bv) : (SelectLast ? v <= bv : v < bv);
                    if (better) { best = j; bv = v; }
                }
                y[o * inner + i] = best;
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>The k largest (or smallest) elements along an axis: output 0 the values, output 1 their int64 indices.</summary>
public sealed class TopKOp(int k, int axis, bool largest, bool sorted, int output) : Operation
{
    public int K { get; } = k;
    public int Axis { get; } = axis;
    public int Output { get; } = output;
    /// <summary>ONNX's sorted=0 leaves the order unspecified; sorted order is always a valid answer.</summary>
    public bool Sorted { get; } = sorted;
    public override string Name => "TopK";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        var shape = (int[])inputs[0].Shape.Clone();
        int a = ShapeMath.NormalizeAxis(Axis, shape.Length, Name);
        if (K < 0 || shape[a] >= 0 && K > shape[a]) throw new ShapeMismatchException(Name, $"k = {K} is out of range for axis {a} of {ShapeMath.Format(shape)}");
        shape[a] = K;
        return new TensorType(Output == 0 ? inputs[0].DType : DType.Int64, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int a = ShapeMath.NormalizeAxis(Axis, x.Rank, Name);
        var (outer, n, inner) = GatherOp.Blocks(x.Shape, a);
        var idx = new int[n];
        var vals = new double[n];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                for (int j = 0; j < n; j++) { idx[j] = j; vals[j] = x.GetDouble((o * n + j) * inner + i); }
                // Stable order: by value (largest first when asked), then by index, as ONNX requires.
                Array.Sort(idx, (p, q) =>
                {
                    int c = largest ? vals[q].CompareTo(vals[p]) : vals[p].CompareTo(vals[q]);
                    return c != 0 ? c : p.CompareTo(q);
                });
                for (int j = 0; j < K; j++)
                {
                    int pos = (o * K + j) * inner + i;
                    if (Output == 0) output.SetDouble(pos, vals[idx[j]]); else output.SetDouble(pos, idx[j]);
                }
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("TopK has no gradient rule.");
}

/// <summary>Cumulative sum along an axis, optionally exclusive and/or reversed.</summary>
public sealed class CumSumOp(int axis, bool exclusive, bool reverse) : Operation
{
    public override string Name => "CumSum";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        ShapeMath.NormalizeAxis(axis, inputs[0].Rank, Name);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name);
        var (outer, n, inner) = GatherOp.Blocks(x.Shape, a);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double acc = 0;
                for (int s = 0; s < n; s++)
                {
                    int j = reverse ? n - 1 - s : s;
                    int pos = (o * n + j) * inner + i;
                    double v = x.GetDouble(pos);
                    if (exclusive) { output.SetDouble(pos, acc); acc += v; }
                    else { acc += v; output.SetDouble(pos, acc); }
                }
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("CumSum has no gradient rule.");
}

/// <summary>Upper or lower triangle of the last two axes (diagonal offset k); the rest becomes zero.</summary>
public sealed class TriluOp(bool upper, long k) : Operation
{
    public override string Name => "Trilu";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (inputs[0].Rank < 2) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(inputs[0].Shape)} must have rank ≥ 2");
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        inputs[0].CopyTo(output);
        int r = output.Shape[^2], c = output.Shape[^1];
        int batches = r * c == 0 ? 0 : output.Length / (r * c);
        for (int b = 0; b < batches; b++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < c; j++)
                {
                    bool keep = upper ? j - i >= k : j - i <= k;
                    if (!keep) output.SetDouble((b * r + i) * c + j, 0);
                }
    }

    public override Node?[] Gradient(Node output, Node gy) => [gy.Graph.Apply(this, gy)];
}

/// <summary>ONNX GatherElements: y[i][j][k] = x[...index[i][j][k] along axis...]; output shaped like the indices.</summary>
public sealed class GatherElementsOp(int axis) : Operation
{
    public override string Name => "GatherElements";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[0].Rank != inputs[1].Rank)
            throw new ShapeMismatchException(Name, $"data {ShapeMath.Format(inputs[0].Shape)} and indices {ShapeMath.Format(inputs[1].Shape)} must have the same rank");
        ShapeMath.NormalizeAxis(axis, inputs[0].Rank, Name);
        return new TensorType(inputs[0].DType, inputs[1].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous(); var ind = inputs[1];
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name);
        var xStrides = ShapeMath.RowMajorStrides(x.Shape);
        var idx = new int[output.Rank];
        for (int p = 0; p < output.Length; p++)
        {
            Unravel(p, output.Shape, idx);
            long v = (long)ind.GetDouble(p);
            if (v < 0) v += x.Shape[a];
            if (v < 0 || v >= x.Shape[a]) throw new IndexOutOfRangeException($"{Name}: index {v} is out of range for axis {a} of {x.ShapeString}.");
            int off = 0;
            for (int d = 0; d < idx.Length; d++) off += (d == a ? (int)v : idx[d]) * xStrides[d];
            output.SetDouble(p, x.GetDouble(off));
        }
    }

    internal static void Unravel(int p, ReadOnlySpan<int> shape, int[] idx)
    {
        for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = p % shape[d]; p /= shape[d]; }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("GatherElements has no gradient rule.");
}

/// <summary>How scattered values combine with what is already there.</summary>
public enum ScatterReduction { None, Add, Mul, Max, Min }

/// <summary>ONNX ScatterElements: a copy of data with updates written at the positions the indices give along an axis.</summary>
public sealed class ScatterElementsOp(int axis, ScatterReduction reduction) : Operation
{
    public override string Name => "ScatterElements";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectSameDType(inputs[0], inputs[2]);
        ShapeMath.NormalizeAxis(axis, inputs[0].Rank, Name);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0]; var ind = inputs[1]; var upd = inputs[2];
        x.CopyTo(output);
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name);
        var strides = ShapeMath.RowMajorStrides(output.Shape);
        var idx = new int[ind.Rank];
        for (int p = 0; p < ind.Length; p++)
        {
            GatherElementsOp.Unravel(p, ind.Shape, idx);
            long v = (long)ind.GetDouble(p);
            if (v < 0) v += x.Shape[a];
            if (v < 0 || v >= x.Shape[a]) throw new IndexOutOfRangeException($"{Name}: index {v} is out of range for axis {a} of {x.ShapeString}.");
            int off = 0;
            for (int d = 0; d < idx.Length; d++) off += (d == a ? (int)v : idx[d]) * strides[d];
            output.SetDouble(off, Combine(reduction, output.GetDouble(off), upd.GetDouble(p)));
        }
    }

    internal static double Combine(ScatterReduction r, double old, double v) => r switch
    {
        ScatterReduction.Add => old + v,
        ScatterReduction.Mul => old * v,
        ScatterReduction.Max => Math.Max(old, v),
        ScatterReduction.Min => Math.Min(old, v),
        _ => v,
    };

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("ScatterElements has no gradient rule.");
}

/// <summary>ONNX GatherND with batch_dims: index tuples in the last axis of the indices pick slices of data.</summary>
public sealed class GatherNdOp(int batchDims) : Operation
{
    public override string Name => "GatherND";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        int[] x = inputs[0].Shape, ind = inputs[1].Shape;
        int k = ind[^1];
        if (k < 0) return new TensorType(inputs[0].DType, [.. ind[..^1], -1]);
        if (batchDims + k > x.Length) throw new ShapeMismatchException(Name, $"index tuples of length {k} with {batchDims} batch dims exceed data {ShapeMath.Format(x)}");
        return new TensorType(inputs[0].DType, [.. ind[..^1], .. x[(batchDims + k)..]]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous(); var ind = inputs[1];
        int k = ind.Shape[^1];
        int batch = 1; for (int d = 0; d < batchDims; d++) batch *= x.Shape[d];
        int slice = 1; for (int d = batchDims + k; d < x.Rank; d++) slice *= x.Shape[d];
        int perBatchData = 1; for (int d = batchDims; d < x.Rank; d++) perBatchData *= x.Shape[d];
        int tuples = ind.Length / Math.Max(k, 1) / Math.Max(batch, 1);
        if (k == 0) tuples = ind.Length == 0 ? ShapeMath.Count(ind.Shape[..^1]) / Math.Max(batch, 1) : tuples;
        var strides = ShapeMath.RowMajorStrides(x.Shape[batchDims..]);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < tuples; t++)
            {
                int off = b * perBatchData;
                for (int j = 0; j < k; j++)
                {
                    long v = (long)ind.GetDouble((b * tuples + t) * k + j);
                    int n = x.Shape[batchDims + j];
                    if (v < 0) v += n;
                    if (v < 0 || v >= n) throw new IndexOutOfRangeException($"{Name}: index {v} is out of range for axis {batchDims + j} of {x.ShapeString}.");
                    off += (int)v * strides[j];
                }
                for (int s = 0; s < slice; s++) output.SetDouble((b * tuples + t) * slice + s, x.GetDouble(off + s));
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("GatherND has no gradient rule.");
}

/// <summary>ONNX ScatterND: a copy of data with update slices written at the index tuples.</summary>
public sealed class ScatterNdOp(ScatterReduction reduction) : Operation
{
    public override string Name => "ScatterND";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectSameDType(inputs[0], inputs[2]);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0]; var ind = inputs[1]; var upd = inputs[2];
        x.CopyTo(output);
        int k = ind.Shape[^1];
        int slice = 1; for (int d = k; d < x.Rank; d++) slice *= x.Shape[d];
        int tuples = k == 0 ? 1 : ind.Length / k;
        var strides = ShapeMath.RowMajorStrides(x.Shape);
        for (int t = 0; t < tuples; t++)
        {
            int off = 0;
            for (int j = 0; j < k; j++)
            {
                long v = (long)ind.GetDouble(t * k + j);
                if (v < 0) v += x.Shape[j];
                if (v < 0 || v >= x.Shape[j]) throw new IndexOutOfRangeException($"{Name}: index {v} is out of range for axis {j} of {x.ShapeString}.");
                off += (int)v * strides[j];
            }
            for (int s = 0; s < slice; s++)
                output.SetDouble(off + s, ScatterElementsOp.Combine(reduction, output.GetDouble(off + s), upd.GetDouble(t * slice + s)));
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("ScatterND has no gradient rule.");
}

/// <summary>ONNX NonZero: the (rank, count) int64 coordinates of the non-zero elements, in row-major order.</summary>
public sealed class NonZeroOp : Operation
{
    public override string Name => "NonZero";
    public override bool ValueDependentShape => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        return new TensorType(DType.Int64, [inputs[0].Rank, -1]);
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs, ReadOnlySpan<Tensor?> values)
    {
        if (values[0] is not { } x) return InferType(inputs);
        int count = 0;
        for (int i = 0; i < x.Length; i++) if (x.GetDouble(i) != 0) count++;
        return new TensorType(DType.Int64, [Math.Max(x.Rank, 1), count]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0];
        int count = output.Shape[1], rank = x.Rank, c = 0;
        var idx = new int[rank];
        var y = output.AsSpan<long>();
        for (int p = 0; p < x.Length; p++)
        {
            if (x.GetDouble(p) == 0) continue;
            GatherElementsOp.Unravel(p, x.Shape, idx);
            if (rank == 0) y[c] = 0;
            for (int d = 0; d < rank; d++) y[d * count + c] = idx[d];
            c++;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>start, start+delta, … below limit (ONNX Range); no inputs.</summary>
public sealed class RangeOp(double start, double limit, double delta, DType dtype) : Operation
{
    public override string Name => "Range";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (delta == 0) throw new ArgumentException($"{Name}: delta must not be 0.");
        double n = Math.Ceiling((limit - start) / delta);
        if (n > ShapeLimits.MaxDimension) throw new ArgumentException($"{Name}: {n} elements is too many.");
        return new TensorType(dtype, [(int)Math.Max(n, 0)]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        for (int i = 0; i < output.Length; i++) output.SetDouble(i, start + i * delta);
    }

    public override Node?[] Gradient(Node output, Node gy) => [];
}

/// <summary>A tensor of a given shape filled with one value (ONNX ConstantOfShape); no inputs.</summary>
public sealed class FillOp(int[] shape, double value, DType dtype) : Operation
{
    public override string Name => "Fill";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"{Name}: shape {ShapeMath.Format(shape)} has a negative dimension.");
            n *= d;
            if (n > ShapeLimits.MaxDimension) throw new ArgumentException($"{Name}: shape {ShapeMath.Format(shape)} is too large.");
        }
        return new TensorType(dtype, (int[])shape.Clone());
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => output.Fill(value);
    public override Node?[] Gradient(Node output, Node gy) => [];
}

/// <summary>A 2-D tensor with ones on diagonal k, shaped like the input (ONNX EyeLike).</summary>
public sealed class EyeLikeOp(int k, DType dtype) : Operation
{
    public override string Name => "EyeLike";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (inputs[0].Rank != 2) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(inputs[0].Shape)} must be 2-D");
        return new TensorType(dtype, inputs[0].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        output.Fill(0);
        int r = output.Shape[0], c = output.Shape[1];
        for (int i = 0; i < r; i++) if (i + k >= 0 && i + k < c) output.SetDouble(i * c + i + k, 1);
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>The input's shape (dims start..end) as an int64 vector (ONNX Shape); the input's values are not read.</summary>
public sealed class ShapeOfOp(int? start = null, int? end = null) : Operation
{
    public override string Name => "Shape";

    /// <summary>The dimensions [start, end) this op reports of an input of <paramref name="rank"/>.</summary>
    internal (int Start, int End) Range(int rank)
    {
        int s = start ?? 0, e = end ?? rank;
        if (s < 0) s += rank;
        if (e < 0) e += rank;
        s = Math.Clamp(s, 0, rank); e = Math.Clamp(e, s, rank);
        return (s, e);
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var (s, e) = Range(inputs[0].Rank);
        return new TensorType(DType.Int64, [e - s]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var (s, _) = Range(inputs[0].Rank);
        var y = output.AsSpan<long>();
        for (int i = 0; i < y.Length; i++) y[i] = inputs[0].Shape[s + i];
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>The number of elements of the input as an int64 scalar (ONNX Size).</summary>
public sealed class SizeOp : Operation
{
    public override string Name => "Size";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) { ExpectInputs(inputs, 1); return new TensorType(DType.Int64, []); }
    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => output.AsSpan<long>()[0] = inputs[0].Length;
    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>1 at the first maximum along an axis, 0 elsewhere (ONNX Hardmax).</summary>
public sealed class HardmaxOp(int axis) : Operation
{
    public override string Name => "Hardmax";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        ShapeMath.NormalizeAxis(axis, inputs[0].Rank, Name);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name);
        var (outer, n, inner) = GatherOp.Blocks(x.Shape, a);
        output.Fill(0);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0; double bv = x.GetDouble(o * n * inner + i);
                for (int j = 1; j < n; j++) { double v = x.GetDouble((o * n + j) * inner + i); if (v > bv) { bv = v; best = j; } }
                if (n > 0) output.SetDouble((o * n + best) * inner + i, 1);
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}
