namespace Tessera.Graphs;

/// <summary>Joins tensors along an existing axis; all other axes must match.</summary>
public sealed class ConcatOp(int axis) : Operation
{
    public int Axis { get; } = axis;
    public override string Name => "Concat";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length == 0) throw new ArgumentException($"{Name}: needs at least one input.");
        var first = inputs[0];
        int axis = ShapeMath.NormalizeAxis(Axis, first.Rank, Name);
        var shape = (int[])first.Shape.Clone();
        for (int i = 1; i < inputs.Length; i++)
        {
            ExpectSameDType(first, inputs[i]);
            var s = inputs[i].Shape;
            bool ok = s.Length == shape.Length;
            for (int d = 0; ok && d < s.Length; d++)
                if (d != axis && s[d] != shape[d] && s[d] != -1 && shape[d] != -1) ok = false;
            if (!ok)
                throw new ShapeMismatchException(Name, $"input {i} has shape {ShapeMath.Format(s)}, incompatible with {ShapeMath.Format(first.Shape)} outside axis {axis}");
            shape[axis] = shape[axis] == -1 || s[axis] == -1 ? -1 : shape[axis] + s[axis];
        }
        return new TensorType(first.DType, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        int axis = ShapeMath.NormalizeAxis(Axis, output.Rank, Name);
        int offset = 0;
        foreach (var x in inputs)
        {
            int size = x.Shape[axis];
            x.CopyTo(output.Slice(axis, offset, offset + size));
            offset += size;
        }
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        int axis = ShapeMath.NormalizeAxis(Axis, output.Rank, Name);
        var grads = new Node?[output.Inputs.Count];
        int offset = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            int size = output.Inputs[i].Shape[axis];
            if (size < 0) throw new NotSupportedException($"{Name}: gradient needs the size of input {i} along axis {axis} at build time.");
            grads[i] = Ops.Slice(gy, axis, offset, offset + size);
            offset += size;
        }
        return grads;
    }
}

/// <summary>
/// Picks slices along an axis by integer indices (NumPy take / ONNX Gather): the output shape is
/// x.shape[:axis] + indices.shape + x.shape[axis+1:]. Negative indices count from the end.
/// </summary>
public sealed class GatherOp(int axis) : Operation
{
    public int Axis { get; } = axis;
    public override string Name => "Gather";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[1].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"indices have dtype {inputs[1].DType.Name()}, expected int32 or int64");
        var x = inputs[0].Shape;
        int axis = ShapeMath.NormalizeAxis(Axis, x.Length, Name);
        return new TensorType(inputs[0].DType, [.. x[..axis], .. inputs[1].Shape, .. x[(axis + 1)..]]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int axis = ShapeMath.NormalizeAxis(Axis, x.Rank, Name);
        var (outer, n, inner) = Blocks(x.Shape, axis);
        var idx = ReadIndices(inputs[1], n, Name);
        var xa = x.Storage.Array;
        var ya = output.Storage.Array;
        int es = x.DType.SizeOf();
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < idx.Length; j++)
                Buffer.BlockCopy(xa, ((o * n + idx[j]) * inner + x.Offset) * es, ya, ((o * idx.Length + j) * inner + output.Offset) * es, inner * es);
    }

    internal static (int Outer, int N, int Inner) Blocks(ReadOnlySpan<int> shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape[axis], inner);
    }

    /// <summary>Indices as ints in [0, n), with negatives wrapped; an out-of-range index names itself.</summary>
    internal static int[] ReadIndices(Tensor indices, int n, string op)
    {
        var result = new int[indices.Length];
        for (int i = 0; i < result.Length; i++)
        {
            long v = (long)indices.GetDouble(i);
            if (v < 0) v += n;
            if (v < 0 || v >= n) throw new IndexOutOfRangeException($"{op}: index {indices.GetDouble(i)} is out of range for an axis of size {n}.");
            result[i] = (int)v;
        }
        return result;
    }

    public override Node?[] Gradient(Node output, Node gy) =>
        [gy.Graph.Apply(new GatherGradOp(Axis), gy, output.Inputs[1], output.Inputs[0]), null];
}

/// <summary>The gradient of a gather: scatter-adds the output gradient into zeros shaped like x.</summary>
public sealed class GatherGradOp(int axis) : Operation
{
    public override string Name => "GatherGrad";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectFloat(inputs[0]);
        return new TensorType(inputs[0].DType, inputs[2].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        int ax = ShapeMath.NormalizeAxis(axis, output.Rank, Name);
        var (outer, n, inner) = GatherOp.Blocks(output.Shape, ax);
        var idx = GatherOp.ReadIndices(inputs[1], n, Name);
        var g = inputs[0].Contiguous();
        output.Fill(0);
        if (output.DType == DType.Float32) Scatter(g.AsSpan<float>(), output.AsSpan<float>(), idx, outer, n, inner);
        else Scatter(g.AsSpan<double>(), output.AsSpan<double>(), idx, outer, n, inner);
    }

    private static void Scatter<T>(ReadOnlySpan<T> g, Span<T> y, int[] idx, int outer, int n, int inner) where T : unmanaged, System.Numerics.INumber<T>
    {
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < idx.Length; j++)
            {
                var src = g.Slice((o * idx.Length + j) * inner, inner);
                var dst = y.Slice((o * n + idx[j]) * inner, inner);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => [Ops.Gather(gy, output.Inputs[1], axis), null, null];
}

/// <summary>Constant padding. Pads are in ONNX order: the begin of every axis, then the end of every axis.</summary>
public sealed class PadOp(int[] pads, double value) : Operation
{
    public int[] Pads { get; } = pads;
    public double Value { get; } = value;
    public override string Name => "Pad";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var x = inputs[0].Shape;
        if (Pads.Length != 2 * x.Length)
            throw new ShapeMismatchException(Name, $"{Pads.Length} pads given for shape {ShapeMath.Format(x)} (expected {2 * x.Length})");
        if (Pads.Any(p => p < 0)) throw new ArgumentException($"{Name}: negative pads are not supported ({string.Join(", ", Pads)}).");
        var shape = new int[x.Length];
        for (int d = 0; d < x.Length; d++) shape[d] = x[d] < 0 ? -1 : x[d] + Pads[d] + Pads[d + x.Length];
        return new TensorType(inputs[0].DType, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        output.Fill(Value);
        inputs[0].CopyTo(Interior(output, inputs[0].Rank));
    }

    /// <summary>The view of a padded tensor that holds the original elements.</summary>
    internal Tensor Interior(Tensor padded, int rank)
    {
        var view = padded;
        for (int d = 0; d < rank; d++) view = view.Slice(d, Pads[d], padded.Shape[d] - Pads[d + rank]);
        return view;
    }

    public override Node?[] Gradient(Node output, Node gy) => [gy.Graph.Apply(new CropOp(this), gy)];
}

/// <summary>The gradient of a pad: the interior of the padded gradient (zero-copy).</summary>
public sealed class CropOp(PadOp pad) : Operation
{
    public override string Name => "Crop";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var x = inputs[0].Shape;
        int r = x.Length;
        var shape = new int[r];
        for (int d = 0; d < r; d++) shape[d] = x[d] < 0 ? -1 : x[d] - pad.Pads[d] - pad.Pads[d + r];
        return new TensorType(inputs[0].DType, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => pad.Interior(inputs[0], inputs[0].Rank);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Pad(gy, pad.Pads, 0)];
}
