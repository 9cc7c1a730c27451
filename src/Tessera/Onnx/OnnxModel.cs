using System.Collections.Concurrent;
using Tessera.Graphs;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>
/// An ONNX model run natively on Tessera's graph engine.
/// </summary>
/// <example><code>
/// using var model = OnnxModel.Load("resnet18.onnx");
/// var outputs = model.Run(new Dictionary&lt;string, Tensor&gt; { ["input"] = image });
/// var logits = outputs[model.Outputs[0].Name];
/// </code></example>
/// <remarks>
/// A run binds inputs to graph nodes, so each concurrent caller needs its own graph: the model keeps a pool of
/// imported graphs (initializers shared read-only) and hands one to each <see cref="Run"/>.
/// <para>Inputs with dynamic dimensions (a batch axis, a sequence length) that the graph computes shapes from: the
/// graph is imported again for each concrete set of input shapes seen (up to <see cref="MaxShapeSpecializations"/>), so the shape computations an
/// exporter writes for them (Shape → Gather → Concat → Reshape) fold to constants and every later op knows its
/// shapes — which shape-specific rewrites (channel-blocked convolutions, fusions) need. Past the cap, runs use the
/// plan for the declared shapes.</para>
/// </remarks>
public sealed class OnnxModel : IInferenceModel
{
    private readonly ModelProto _proto;
    private readonly Dictionary<string, Tensor> _initializers;
    private readonly string? _baseDirectory;
    private readonly bool _fuse;
    private readonly bool _blockedLayout;
    private readonly ConcurrentBag<Instance> _pool = [];   // the plan for the declared (dynamic) shapes
    private readonly ConcurrentDictionary<string, (ConcurrentBag<Instance> Pool, Dictionary<string, int[]> Shapes)> _specialized = new();
    private readonly bool _specializes;   // dynamic input dimensions that the plan computes shapes from
    private readonly TensorInfo[] _inputs, _outputs;
    private bool _disposed;

    private sealed class Instance(OnnxGraph graph) : IDisposable
    {
        public readonly OnnxGraph Graph = graph;
        // Only the outputs are read after a run (and cloned), so intermediate values share buffers.
        public readonly TapeMachine Machine = new(graph.Graph, graph.Outputs) { ReuseBuffers = true };
        public void Dispose() => Machine.Dispose();
    }

    private OnnxModel(ModelProto proto, string? baseDirectory, bool fuse, bool? blockedLayout)
    {
        _proto = proto;
        _baseDirectory = baseDirectory;
        _fuse = fuse;
        _blockedLayout = fuse && (blockedLayout ?? NchwcLayout.IsBeneficial);
        _initializers = OnnxImporter.ReadInitializers(proto, baseDirectory);
        Opset = OnnxImporter.DefaultOpset(proto);
        // Importing once up front reports unsupported operators and malformed graphs at load time.
        var first = NewInstance();
        _inputs = [.. OnnxImporter.RealInputs(proto, _initializers).Select(v => { var t = OnnxImporter.ValueType(v); return new TensorInfo(v.Name, t.DType, t.Shape) { Kind = t.Kind }; })];
        _outputs = [.. proto.Graph.Output.Select((v, i) => new TensorInfo(v.Name, first.Graph.Outputs[i].DType, OutputShape(v, first.Graph.Outputs[i])) { Kind = first.Graph.Outputs[i].Type.Kind })];
        // Plans per input shape are for tensor inputs only (a sequence has no one shape).
        _specializes = _inputs.All(i => i.Kind == ValueKind.Tensor) && _inputs.Any(i => i.Shape.Any(d => d < 0))
            && ComputesShapes(first.Graph.Outputs);
        _pool.Add(first);
    }

    /// <summary>
    /// Loads a model file (external data files are read from its directory). With <paramref name="fuse"/> (the
    /// default) the imported graph goes through <see cref="InferenceFusion"/>; false runs it op by op, as imported.
    /// <paramref name="blockedLayout"/>: run float convolutions on channel-blocked tensors (<see cref="NchwcLayout"/>);
    /// null (the default) does so where it pays (AVX-512, or AVX2 + FMA), true forces it, false keeps im2col + GEMM.
    /// Needs fusion.
    /// </summary>
    public static OnnxModel Load(string path, bool fuse = true, bool? blockedLayout = null) =>
        new(OnnxModelReader.ReadModel(path), Path.GetDirectoryName(Path.GetFullPath(path)), fuse, blockedLayout);

    /// <summary>Loads a model from bytes (models with external data need <see cref="Load(string, bool, bool?)"/>).</summary>
    public static OnnxModel Load(byte[] bytes, bool fuse = true, bool? blockedLayout = null) =>
        new(OnnxModelReader.ParseModel(bytes), null, fuse, blockedLayout);

    /// <summary>
    /// How many sets of concrete input shapes get a plan of their own (see the remarks); 0 runs every shape on the
    /// plan for the declared shapes. Each costs an import (fusion, weight packing is shared) on the first run at it.
    /// </summary>
    public int MaxShapeSpecializations { get; set; } = 8;

    /// <summary>One executable copy of the graph: imported (for <paramref name="inputShapes"/> when given), fused unless disabled, with its own machine.</summary>
    private Instance NewInstance(Dictionary<string, int[]>? inputShapes = null)
    {
        var imported = OnnxImporter.Import(_proto, _initializers, _baseDirectory, inputShapes);
        if (!_fuse) return new Instance(imported);
        var fused = InferenceFusion.Fuse(imported.Graph, imported.Outputs, out var map);
        var inputs = imported.Inputs.Select(i => map[i]).ToList();
        var outputs = imported.Outputs.Select(o => map[o]).ToList();
        if (_blockedLayout)
        {
            // Convolutions on channel-blocked tensors (AVX-512): the im2col copies disappear.
            fused = NchwcLayout.Apply(fused, outputs, out var blockedMap);
            inputs = inputs.Select(i => blockedMap[i]).ToList();
            outputs = outputs.Select(o => blockedMap[o]).ToList();
        }
        return new Instance(new OnnxGraph(fused, [.. inputs], [.. outputs]));
    }

    /// <summary>The default-domain opset the model was exported with.</summary>
    public int Opset { get; }
    public IReadOnlyList<TensorInfo> Inputs => _inputs;
    public IReadOnlyList<TensorInfo> Outputs => _outputs;
    public ModelProto Proto => _proto;

    private static int[] OutputShape(ValueInfoProto v, Node node)
    {
        if (v.Type?.TensorType?.Shape is { } s)
            return [.. s.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? (int)d.DimValue : -1)];
        return node.Shape;
    }

    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (_outputs.FirstOrDefault(o => o.Kind != ValueKind.Tensor) is { } seq)
            throw new InvalidOperationException($"Output {seq} is not a tensor: use RunValues.");
        return RunValues(inputs.ToDictionary(p => p.Key, p => (object)p.Value)).ToDictionary(p => p.Key, p => (Tensor)p.Value);
    }

    /// <summary>
    /// Runs a model whose inputs or outputs may be ONNX sequences or optionals: each value is a <see cref="Tensor"/>,
    /// a <see cref="TensorSequence"/> or an <see cref="OptionalValue"/>, as <see cref="Inputs"/> and <see cref="Outputs"/>
    /// (<see cref="TensorInfo.Kind"/>) declare.
    /// </summary>
    public Dictionary<string, object> RunValues(IReadOnlyDictionary<string, object> inputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Validate(inputs);
        var (pool, shapes) = PoolFor(inputs);
        if (!pool.TryTake(out var instance)) instance = NewInstance(shapes);
        try
        {
            for (int i = 0; i < _inputs.Length; i++) Graph.LetValue(instance.Graph.Inputs[i], inputs[_inputs[i].Name]);
            instance.Machine.RunAll();
            var result = new Dictionary<string, object>();
            for (int i = 0; i < _outputs.Length; i++)
            {
                var v = instance.Graph.Outputs[i].AnyValue!;
                result[_outputs[i].Name] = v is Tensor t ? t.Clone() : v;   // containers own their tensors already
            }
            return result;
        }
        finally
        {
            foreach (var n in instance.Graph.Inputs) { n.Value = null; n.Boxed = null; }
            pool.Add(instance);
        }
    }

    /// <summary>
    /// Whether the plan reads shapes at run time (Shape, Size, or an op whose parameters are computed): only then does
    /// a plan per input shape fold anything. A CNN that merely has a dynamic batch keeps one plan for all batches.
    /// </summary>
    private static bool ComputesShapes(IEnumerable<Node> outputs)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            if (n.Operation is ShapeOfOp or SizeOp or BoundOp) return true;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        return false;
    }

    /// <summary>The pool of plans for these inputs' shapes (and the shapes, to import one), or the declared-shape pool.</summary>
    private (ConcurrentBag<Instance> Pool, Dictionary<string, int[]>? Shapes) PoolFor(IReadOnlyDictionary<string, object> inputs)
    {
        if (!_specializes || MaxShapeSpecializations <= 0) return (_pool, null);
        // Validated: with _specializes every input is a tensor.
        var key = string.Join(";", _inputs.Select(i => ((Tensor)inputs[i.Name]).ShapeString));
        if (_specialized.TryGetValue(key, out var hit)) return hit;
        if (_specialized.Count >= MaxShapeSpecializations) return (_pool, null);
        var entry = _specialized.GetOrAdd(key, _ => ([], _inputs.ToDictionary(i => i.Name, i => ((Tensor)inputs[i.Name]).ShapeArray())));
        return entry;
    }

    /// <summary>
    /// Runs the model <paramref name="runs"/> times on one pooled instance (after one warm-up run, which allocates
    /// its buffers) and returns the wall time per op name summed over those runs: the executor's own plan, buffers and
    /// threads, so the figures are what <see cref="Run"/> spends.
    /// </summary>
    public Dictionary<string, (double Seconds, long Calls)> Profile(IReadOnlyDictionary<string, Tensor> inputs, int runs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var values = inputs.ToDictionary(p => p.Key, p => (object)p.Value);
        Validate(values);
        var (pool, shapes) = PoolFor(values);
        if (!pool.TryTake(out var instance)) instance = NewInstance(shapes);
        try
        {
            for (int i = 0; i < _inputs.Length; i++) Graph.Let(instance.Graph.Inputs[i], inputs[_inputs[i].Name]);
            instance.Machine.RunAll();
            instance.Machine.Profile.Clear();
            instance.Machine.Profiling = true;
            for (int r = 0; r < runs; r++) instance.Machine.RunAll();
            return new Dictionary<string, (double, long)>(instance.Machine.Profile);
        }
        finally
        {
            instance.Machine.Profiling = false;
            instance.Machine.Profile.Clear();
            foreach (var n in instance.Graph.Inputs) n.Value = null;
            pool.Add(instance);
        }
    }

    private void Validate(IReadOnlyDictionary<string, object> inputs)
    {
        foreach (var name in inputs.Keys)
            if (!_inputs.Any(i => i.Name == name))
                throw new ArgumentException($"The model has no input named '{name}'; its inputs are {string.Join(", ", _inputs.Select(i => i.ToString()))}.");
        foreach (var info in _inputs)
        {
            if (!inputs.TryGetValue(info.Name, out var value))
                throw new ArgumentException($"Input '{info.Name}' ({info.DType.Name()} {ShapeMath.Format(info.Shape)}) is missing.");
            if (info.Kind != ValueKind.Tensor || value is not Tensor t)
            {
                ValueKinds.Check(new TensorType(info.DType, info.Shape) { Kind = info.Kind }, value, $"Input '{info.Name}'");
                continue;
            }
            if (t.DType != info.DType)
                throw new ArgumentException($"Input '{info.Name}' expects dtype {info.DType.Name()}, was given {t.DType.Name()}.");
            bool ok = t.Rank == info.Shape.Length;
            for (int d = 0; ok && d < t.Rank; d++) ok = info.Shape[d] < 0 || info.Shape[d] == t.Shape[d];
            if (!ok)
                throw new ArgumentException($"Input '{info.Name}' expects shape {ShapeMath.Format(info.Shape)}, was given {t.ShapeString}.");
        }
    }

    public void Dispose()
    {
        _disposed = true;
        while (_pool.TryTake(out var i)) i.Dispose();
        foreach (var (pool, _) in _specialized.Values)
            while (pool.TryTake(out var i)) i.Dispose();
    }
}
