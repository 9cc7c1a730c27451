using Tessera.Graphs;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>
/// A control-flow body (If branch, Loop/Scan body, SequenceMap body) held by a run-time op. It is imported once at
/// load against the enclosing graph, which validates it, gives its output types and lists the enclosing values it
/// reads (<see cref="CaptureNames"/>; the op takes them as extra inputs). At run time it is compiled again for the
/// exact types of its inputs (cached per signature), so shape-dependent builders see known shapes, and run by its
/// own <see cref="TapeMachine"/>. Run returns copies: the inner machine reuses its buffers on the next run.
/// </summary>
internal sealed class OnnxSubgraph
{
    private const int MaxCompiled = 16;

    private sealed class Compiled(Graph graph, Node[] inputs, (string Name, Node Inner)[] captures, Node[] outputs)
    {
        public readonly Node[] Inputs = inputs;
        public readonly (string Name, Node Inner)[] Captures = captures;
        public readonly Node[] Outputs = outputs;
        public readonly TapeMachine Machine = new(graph, outputs) { ReuseBuffers = true };
    }

    private readonly GraphProto _body;
    private readonly int _opset;
    private readonly string? _baseDirectory;
    private readonly string _what;
    private readonly Dictionary<string, Compiled> _compiled = [];
    /// <summary>Enclosing constants the body reads; a run-time compilation sees them as constants again.</summary>
    private Dictionary<string, Tensor> _constants = [];

    private OnnxSubgraph(GraphProto body, int opset, string? baseDirectory, string what)
    {
        _body = body; _opset = opset; _baseDirectory = baseDirectory; _what = what;
    }

    /// <summary>Where errors point: "Loop node 'x' body".</summary>
    public string What => _what;
    /// <summary>Enclosing values the body reads, by name; the op passes their values to <see cref="Run"/> in this order.</summary>
    public string[] CaptureNames { get; private set; } = [];
    /// <summary>Enclosing nodes of <see cref="CaptureNames"/> (load time only: the op's extra inputs).</summary>
    public Node[] CaptureNodes { get; private set; } = [];
    public TensorType[] OutputTypes { get; private set; } = [];
    public int InputCount => _body.Input.Count;
    /// <summary>The declared type of body input <paramref name="i"/>, when it declares one.</summary>
    public TypeProto? DeclaredInput(int i) => _body.Input[i].Type;

    /// <summary>
    /// Shape for a scalar the op feeds to body input <paramref name="i"/> (Loop's iteration number and condition):
    /// (1,) where the body declares that, else a scalar.
    /// </summary>
    public int[] DeclaredShape(int i) =>
        i < _body.Input.Count && _body.Input[i].Type?.TensorType?.Shape?.Dim is { Count: 1 } d && d[0].DimValue == 1 ? [1] : [];

    /// <summary>Imports graph attribute <paramref name="attribute"/> of the node with the given formal input types.</summary>
    public static OnnxSubgraph Import(OnnxNodeContext c, string attribute, Func<OnnxSubgraph, TensorType[]> inputTypes, int outputs)
    {
        var body = c.Attribute(attribute)?.G ?? throw new OnnxFormatException($"node '{c.Proto.Name}' ({c.OpType}): attribute '{attribute}' (a graph) is required.");
        var sub = new OnnxSubgraph(body, c.Opset, c.BaseDirectory, $"{c.OpType} node '{c.Proto.Name}' {attribute}");
        var types = inputTypes(sub);
        if (body.Input.Count != types.Length)
            throw new OnnxFormatException($"{sub.What} has {body.Input.Count} inputs, expected {types.Length}.");
        if (body.Output.Count != outputs && outputs >= 0)
            throw new OnnxFormatException($"{sub.What} has {body.Output.Count} outputs, expected {outputs}.");
        var scope = new OnnxScope(c.Scope ?? throw new InvalidOperationException("subgraphs need an import scope"), c.Opset, c.BaseDirectory);
        var compiled = sub.Build(scope, types);
        sub.CaptureNames = [.. compiled.Captures.Select(p => p.Name)];
        sub._constants = scope.ConstantCaptures;
        sub.CaptureNodes = [.. sub.CaptureNames.Select(n => c.Scope.Resolve(n)!)];
        sub.OutputTypes = [.. compiled.Outputs.Select(o => o.Type)];
        return sub;
    }

    private Compiled Build(OnnxScope scope, TensorType[] types)
    {
        var inputs = new Node[types.Length];
        for (int i = 0; i < types.Length; i++)
        {
            var name = _body.Input[i].Name;
            inputs[i] = scope.Graph.Input(types[i], name);
            scope.Values[name] = inputs[i];
        }
        scope.AddInitializers(_body);
        try { scope.AddNodes(_body.Node); }
        catch (OnnxFormatException e) { throw new OnnxFormatException($"{_what}: {e.Message}", e); }
        catch (OnnxUnsupportedException e) { throw new OnnxUnsupportedException($"{_what}: {e.Message}") { OpType = e.OpType }; }
        var outputs = _body.Output.Select(o => scope.Resolve(o.Name)
            ?? throw new OnnxFormatException($"{_what}: output '{o.Name}' is produced by no node.")).ToArray();
        return new Compiled(scope.Graph, inputs, [.. scope.Captures], outputs);
    }

    /// <summary>
    /// Runs the body on <paramref name="inputs"/> (formal) and <paramref name="captures"/> (in <see cref="CaptureNames"/>
    /// order); returns its outputs, tensors copied.
    /// </summary>
    public object[] Run(ReadOnlySpan<object?> inputs, ReadOnlySpan<object?> captures)
    {
        var key = new System.Text.StringBuilder();
        var types = new TensorType[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            types[i] = ValueKinds.TypeOf(inputs[i] ?? throw new ArgumentException($"{_what}: input {i} has no value."), default);
            key.Append(types[i]).Append(';');
        }
        var captured = new Dictionary<string, object>();
        for (int i = 0; i < captures.Length; i++)
        {
            captured[CaptureNames[i]] = captures[i]!;
            key.Append(CaptureNames[i]).Append('=').Append(ValueKinds.TypeOf(captures[i]!, default)).Append(';');
        }
        if (!_compiled.TryGetValue(key.ToString(), out var compiled))
        {
            if (_compiled.Count >= MaxCompiled) _compiled.Clear();   // shapes that change every iteration: keep memory bounded
            var outer = new OnnxScope(null, _opset, _baseDirectory);
            foreach (var (name, value) in captured) outer.Values[name] = outer.Graph.Input(ValueKinds.TypeOf(value, default), name);
            foreach (var (name, value) in _constants) outer.Values[name] = outer.Graph.Constant(value, name);
            compiled = Build(new OnnxScope(outer, _opset, _baseDirectory), types);
            _compiled[key.ToString()] = compiled;
        }
        for (int i = 0; i < inputs.Length; i++) Graph.LetValue(compiled.Inputs[i], inputs[i]!);
        foreach (var (name, node) in compiled.Captures) Graph.LetValue(node, captured[name]);
        compiled.Machine.RunAll();
        var result = new object[compiled.Outputs.Length];
        for (int i = 0; i < result.Length; i++)
        {
            var v = compiled.Outputs[i].AnyValue ?? throw new InvalidOperationException($"{_what}: output {i} has no value.");
            result[i] = v is Tensor t ? t.Clone() : v;   // containers are immutable and own their tensors
        }
        return result;
    }
}
