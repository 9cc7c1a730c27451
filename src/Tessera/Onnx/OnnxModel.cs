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
/// </remarks>
public sealed class OnnxModel : IInferenceModel
{
    private readonly ModelProto _proto;
    private readonly Dictionary<string, Tensor> _initializers;
    private readonly string? _baseDirectory;
    private readonly bool _fuse;
    private readonly bool _blockedLayout;
    private readonly ConcurrentBag<Instance> _pool = [];
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
        _inputs = [.. OnnxImporter.RealInputs(proto, _initializers).Select(v => { var (d, s) = OnnxImporter.InputType(v); return new TensorInfo(v.Name, d, s); })];
        _outputs = [.. proto.Graph.Output.Select((v, i) => new TensorInfo(v.Name, first.Graph.Outputs[i].DType, OutputShape(v, first.Graph.Outputs[i])))];
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

    /// <summary>One executable copy of the graph: imported, fused unless disabled, with its own machine.</summary>
    private Instance NewInstance()
    {
        var imported = OnnxImporter.Import(_proto, _initializers, _baseDirectory);
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
        ObjectDisposedException.ThrowIf(_disposed, this);
        Validate(inputs);
        if (!_pool.TryTake(out var instance)) instance = NewInstance();
        try
        {
            for (int i = 0; i < _inputs.Length; i++) Graph.Let(instance.Graph.Inputs[i], inputs[_inputs[i].Name]);
            instance.Machine.RunAll();
            var result = new Dictionary<string, Tensor>();
            for (int i = 0; i < _outputs.Length; i++)
                result[_outputs[i].Name] = instance.Graph.Outputs[i].Value!.Clone();
            return result;
        }
        finally
        {
            foreach (var n in instance.Graph.Inputs) n.Value = null;
            _pool.Add(instance);
        }
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
        Validate(inputs);
        if (!_pool.TryTake(out var instance)) instance = NewInstance();
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
            _pool.Add(instance);
        }
    }

    /// <summary>
    /// As <see cref="Profile"/>, per executed step in tape order: (op name, output shape, seconds summed over the runs),
    /// to set a model's layers one by one beside another engine's per-node profile.
    /// </summary>
    public List<(string Op, int[] Shape, double Seconds)> ProfileSteps(IReadOnlyDictionary<string, Tensor> inputs, int runs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        Validate(inputs);
        if (!_pool.TryTake(out var instance)) instance = NewInstance();
        try
        {
            for (int i = 0; i < _inputs.Length; i++) Graph.Let(instance.Graph.Inputs[i], inputs[_inputs[i].Name]);
            instance.Machine.RunAll();
            instance.Machine.ResetProfile();
            instance.Machine.Profiling = true;
            for (int r = 0; r < runs; r++) instance.Machine.RunAll();
            return [.. instance.Machine.NodeProfile.Select(s => (s.Node.Operation?.Name ?? s.Node.Name, s.Node.Shape, s.Seconds))];
        }
        finally
        {
            instance.Machine.Profiling = false;
            instance.Machine.ResetProfile();
            foreach (var n in instance.Graph.Inputs) n.Value = null;
            _pool.Add(instance);
        }
    }

    private void Validate(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var name in inputs.Keys)
            if (!_inputs.Any(i => i.Name == name))
                throw new ArgumentException($"The model has no input named '{name}'; its inputs are {string.Join(", ", _inputs.Select(i => i.ToString()))}.");
        foreach (var info in _inputs)
        {
            if (!inputs.TryGetValue(info.Name, out var t))
                throw new ArgumentException($"Input '{info.Name}' ({info.DType.Name()} {ShapeMath.Format(info.Shape)}) is missing.");
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
    }
}
