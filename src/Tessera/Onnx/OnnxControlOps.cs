using Tessera.Graphs;

namespace Tessera.Onnx;

/// <summary>
/// If with a run-time condition: evaluates only the taken branch, by its own machine. Inputs: cond, then the
/// enclosing values either branch reads (<paramref name="captureNames"/>). Output: the tuple of the branch's outputs.
/// </summary>
internal sealed class IfOp(OnnxSubgraph then, OnnxSubgraph @else, string[] captureNames) : ValueOperation
{
    public override string Name => "If";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => TensorType.Tuple;

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var cond = AsTensor(inputs[0], Name, "cond");
        if (cond.Length != 1) throw new ArgumentException($"If: cond must hold one value, has shape {cond.ShapeString}.");
        var branch = cond.GetDouble(0) != 0 ? then : @else;
        var outs = branch.Run([], Captures(branch, captureNames, inputs[1..]));
        return new OutputTuple(outs);
    }

    /// <summary>The captured values one body reads, picked by name from the op's capture inputs.</summary>
    internal static object?[] Captures(OnnxSubgraph body, string[] names, ReadOnlySpan<object?> values)
    {
        var result = new object?[body.CaptureNames.Length];
        for (int i = 0; i < result.Length; i++) result[i] = values[Array.IndexOf(names, body.CaptureNames[i])];
        return result;
    }
}

/// <summary>
/// ONNX Loop: inputs [M?, cond?, carried..., captures...] (absent M or cond are left out, see the flags); output the
/// tuple [final carried..., scan outputs...]. Scan outputs are stacked along a new first axis once the loop ends, so a
/// large M allocates nothing up front.
/// </summary>
internal sealed class LoopOp(OnnxSubgraph body, bool hasM, bool hasCond, int carried, TensorType[] scanTypes) : ValueOperation
{
    public override string Name => "Loop";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => TensorType.Tuple;

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        int at = 0;
        long max = hasM ? (long)AsTensor(inputs[at++], Name, "M").GetDouble(0) : long.MaxValue;
        bool cond = !hasCond || AsTensor(inputs[at++], Name, "cond").GetDouble(0) != 0;
        var state = inputs.Slice(at, carried).ToArray();
        var captures = inputs[(at + carried)..].ToArray();
        var scans = new List<Tensor>[scanTypes.Length];
        for (int k = 0; k < scans.Length; k++) scans[k] = [];
        var iterType = body.DeclaredShape(0);
        var condType = body.DeclaredShape(1);
        var args = new object?[2 + carried];
        for (long i = 0; i < max && cond; i++)
        {
            args[0] = Tensor.Full(i, DType.Int64, iterType);
            args[1] = Tensor.Full(cond ? 1 : 0, DType.Bool, condType);
            Array.Copy(state, 0, args, 2, carried);
            var outs = body.Run(args, captures);
            cond = AsTensor(outs[0], Name, "body output 0 (cond)").GetDouble(0) != 0;
            for (int j = 0; j < carried; j++)
            {
                var (before, after) = (ValueKinds.KindOf(state[j]!), ValueKinds.KindOf(outs[1 + j]));
                bool unwrapped = before is ValueKind.Optional or ValueKind.OptionalSequence && after == (before == ValueKind.Optional ? ValueKind.Tensor : ValueKind.Sequence);
                if (after != before && !unwrapped)
                    throw new ArgumentException($"{body.What}: loop-carried value {j} is {Describe(state[j])} in and {Describe(outs[1 + j])} out.");
                state[j] = outs[1 + j];
            }
            for (int k = 0; k < scans.Length; k++) scans[k].Add(AsTensor(outs[1 + carried + k], Name, $"scan output {k}"));
        }
        var result = new object[carried + scans.Length];
        for (int j = 0; j < carried; j++) result[j] = Owned(state[j]!, inputs);
        for (int k = 0; k < scans.Length; k++) result[carried + k] = Stack(scans[k], scanTypes[k], $"{body.What}: scan output {k}");
        return new OutputTuple(result);
    }

    /// <summary>
    /// A result that may still be one of the op's inputs (no iteration ran) as a copy: an input tensor may live in an
    /// executor buffer that a later step reuses. Containers are immutable and pass as they are.
    /// </summary>
    internal static object Owned(object value, ReadOnlySpan<object?> inputs)
    {
        if (value is not Tensor t) return value;
        foreach (var i in inputs)
            if (i is Tensor it && ReferenceEquals(it.Storage, t.Storage)) return t.Clone();
        return t;
    }

    /// <summary>Stacks equal-shaped tensors along a new first axis; none gives a (0, ...) tensor of the declared element type.</summary>
    internal static Tensor Stack(List<Tensor> items, TensorType element, string what)
    {
        if (items.Count == 0) return Tensor.Empty(element.DType, [0, .. element.Shape.Select(d => Math.Max(d, 0))]);
        var first = items[0];
        var result = Tensor.Empty(first.DType, [items.Count, .. first.ShapeArray()]);
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].DType != first.DType || !items[i].Shape.SequenceEqual(first.Shape))
                throw new ArgumentException($"{what} is {items[i].DType.Name()} {items[i].ShapeString} in iteration {i}, {first.DType.Name()} {first.ShapeString} in the first; scan outputs keep one shape.");
            items[i].Unsqueeze(0).CopyTo(result.Slice(0, i, i + 1));
        }
        return result;
    }
}

/// <summary>
/// ONNX Scan (opset 9+ semantics; opset 8's batch axis is handled by running it per batch row). Inputs: states,
/// scan inputs, captures. Output: the tuple [final states..., scan outputs...].
/// </summary>
internal sealed class ScanOp(OnnxSubgraph body, int states, int[] inAxes, bool[] inReverse, int[] outAxes, bool[] outReverse, bool batched) : ValueOperation
{
    public override string Name => "Scan";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => TensorType.Tuple;

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        int scanned = inAxes.Length;
        var tensors = new Tensor[states + scanned];
        for (int i = 0; i < tensors.Length; i++) tensors[i] = AsTensor(inputs[i], Name, $"input {i}");
        var captures = inputs[tensors.Length..].ToArray();
        if (!batched) return new OutputTuple(Run(tensors, captures));
        // Opset 8: axis 0 of every input is a batch; each row is an independent scan over axis 1.
        int batch = tensors[0].Shape[0];
        var rows = new List<object[]>();
        for (int b = 0; b < batch; b++)
        {
            if (tensors.Any(t => t.Rank == 0 || t.Shape[0] != batch))
                throw new ArgumentException($"{body.What}: every input needs batch size {batch} on axis 0.");
            rows.Add(Run([.. tensors.Select(t => t.Slice(0, b, b + 1).Squeeze(0).Contiguous())], captures));
        }
        var result = new object[rows.Count == 0 ? 0 : rows[0].Length];
        for (int o = 0; o < result.Length; o++)
            result[o] = LoopOp.Stack([.. rows.Select(r => (Tensor)r[o])], default, $"{body.What}: output {o}");
        return new OutputTuple(result);
    }

    private object[] Run(Tensor[] inputs, object?[] captures)
    {
        int scanned = inAxes.Length;
        int steps = -1;
        for (int j = 0; j < scanned; j++)
        {
            var x = inputs[states + j];
            int axis = inAxes[j] < 0 ? inAxes[j] + x.Rank : inAxes[j];
            if (axis < 0 || axis >= x.Rank) throw new ArgumentException($"{body.What}: scan input {j} of rank {x.Rank} has no axis {inAxes[j]}.");
            if (steps >= 0 && x.Shape[axis] != steps)
                throw new ArgumentException($"{body.What}: scan inputs have {steps} and {x.Shape[axis]} steps.");
            steps = x.Shape[axis];
        }
        var state = inputs[..states].Cast<object>().ToArray();
        var scans = new List<Tensor>[body.OutputTypes.Length - states];
        for (int k = 0; k < scans.Length; k++) scans[k] = [];
        var args = new object?[states + scanned];
        for (int t = 0; t < steps; t++)
        {
            Array.Copy(state, args, states);
            for (int j = 0; j < scanned; j++)
            {
                var x = inputs[states + j];
                int axis = inAxes[j] < 0 ? inAxes[j] + x.Rank : inAxes[j];
                int at = inReverse[j] ? steps - 1 - t : t;
                args[states + j] = x.Slice(axis, at, at + 1).Squeeze(axis).Contiguous();
            }
            var outs = body.Run(args, captures);
            Array.Copy(outs, state, states);
            for (int k = 0; k < scans.Length; k++) scans[k].Add(AsTensor(outs[states + k], Name, $"scan output {k}"));
        }
        var result = new object[states + scans.Length];
        for (int i = 0; i < states; i++) result[i] = LoopOp.Owned(state[i], (object?[])inputs);
        for (int k = 0; k < scans.Length; k++)
        {
            if (outReverse[k]) scans[k].Reverse();
            var stacked = LoopOp.Stack(scans[k], body.OutputTypes[states + k], $"{body.What}: scan output {k}");
            int axis = outAxes[k] < 0 ? outAxes[k] + stacked.Rank : outAxes[k];
            if (axis < 0 || axis >= stacked.Rank) throw new ArgumentException($"{body.What}: scan output {k} of rank {stacked.Rank} has no axis {outAxes[k]}.");
            if (axis != 0)
            {
                // Move the new step axis from 0 to where scan_output_axes puts it.
                var perm = Enumerable.Range(1, stacked.Rank - 1).ToList();
                perm.Insert(axis, 0);
                stacked = stacked.Permute([.. perm]).Clone();
            }
            result[states + k] = stacked;
        }
        return result;
    }
}

/// <summary>
/// ONNX SequenceMap: runs the body once per element of the input sequences (tensor inputs go to every run); each body
/// output becomes a sequence. Inputs: the sequences and tensors, then captures. Output: the tuple of those sequences.
/// </summary>
internal sealed class SequenceMapOp(OnnxSubgraph body, bool[] isSequence) : ValueOperation
{
    public override string Name => "SequenceMap";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => TensorType.Tuple;

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        int n = isSequence.Length;
        int count = AsSequence(inputs[0], Name, "input 0").Count;
        for (int j = 1; j < n; j++)
            if (isSequence[j] && AsSequence(inputs[j], Name, $"input {j}").Count != count)
                throw new ArgumentException($"{body.What}: input sequences have {count} and {((TensorSequence)inputs[j]!).Count} tensors.");
        var captures = inputs[n..].ToArray();
        var outs = body.OutputTypes.Select(_ => new List<Tensor>()).ToArray();
        var args = new object?[n];
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < n; j++) args[j] = isSequence[j] ? ((TensorSequence)inputs[j]!)[i] : inputs[j];
            var r = body.Run(args, captures);
            for (int k = 0; k < outs.Length; k++) outs[k].Add(AsTensor(r[k], Name, $"body output {k}"));
        }
        return new OutputTuple([.. outs.Select((l, k) => (object)new TensorSequence(body.OutputTypes[k].DType, l))]);
    }
}
