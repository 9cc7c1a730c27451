namespace Tessera.Graphs;

/// <summary>
/// Runs a graph: a flat tape of its op nodes in topological order (creation order). Output buffers are allocated
/// on the first run and reused while input shapes stay the same, so a training loop allocates nothing per step;
/// the type rule runs again only when an input's shape changes.
/// </summary>
public sealed class TapeMachine : IDisposable
{
    private sealed class Step(Node node)
    {
        public readonly Node Node = node;
        public readonly Operation Op = node.Operation!;
        public readonly Node[] Inputs = [.. node.Inputs];
        public readonly Tensor[] Args = new Tensor[node.Inputs.Count];
        public readonly int[][] LastShapes = new int[node.Inputs.Count][];
        public Tensor? Output;
        public double ProfileSeconds;
    }

    private readonly Graph _graph;
    private readonly Node[]? _outputs;
    private Step[] _steps = [];
    private Node[] _inputs = [];
    private int _compiledNodeCount = -1;

    /// <summary>A machine for the whole graph, or only for what <paramref name="outputs"/> need.</summary>
    public TapeMachine(Graph graph, params Node[] outputs)
    {
        _graph = graph;
        _outputs = outputs.Length == 0 ? null : outputs;
        Compile();
    }

    /// <summary>When set, <see cref="RunAll"/> adds each step's wall time to <see cref="Profile"/> by op name.</summary>
    public bool Profiling { get; set; }

    /// <summary>Accumulated (seconds, calls) per op name while <see cref="Profiling"/> is on.</summary>
    public Dictionary<string, (double Seconds, long Calls)> Profile { get; } = [];

    /// <summary>Accumulated seconds per node (tape order) while <see cref="Profiling"/> is on, e.g. to split forward from backward.</summary>
    public IEnumerable<(Node Node, double Seconds)> NodeProfile => _steps.Select(s => (s.Node, s.ProfileSeconds));

    /// <summary>Clears <see cref="Profile"/> and <see cref="NodeProfile"/> (e.g. after warm-up).</summary>
    public void ResetProfile()
    {
        Profile.Clear();
        foreach (var s in _steps) s.ProfileSeconds = 0;
    }

    /// <summary>Number of op nodes on the tape.</summary>
    public int StepCount => _steps.Length;

    private void Compile()
    {
        var nodes = _graph.Nodes;
        var needed = new bool[nodes.Count];
        if (_outputs is null) Array.Fill(needed, true);
        else
        {
            var stack = new Stack<Node>(_outputs);
            while (stack.Count > 0)
            {
                var n = stack.Pop();
                if (n.Graph != _graph) throw new ArgumentException($"TapeMachine: {n.Name} belongs to another graph.");
                if (needed[n.Id]) continue;
                needed[n.Id] = true;
                foreach (var i in n.Inputs) stack.Push(i);
            }
        }
        var old = _steps.ToDictionary(s => s.Node);
        var steps = new List<Step>();
        var inputs = new List<Node>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (!needed[i]) continue;
            var n = nodes[i];
            if (n.Kind == NodeKind.Operation) steps.Add(old.TryGetValue(n, out var s) ? s : new Step(n));
            else if (n.Kind == NodeKind.Input) inputs.Add(n);
        }
        _steps = [.. steps];
        _inputs = [.. inputs];
        _compiledNodeCount = nodes.Count;
    }

    /// <summary>Computes every node on the tape. Throws naming the input if one has no value bound.</summary>
    public void RunAll()
    {
        if (_outputs is null && _graph.Nodes.Count != _compiledNodeCount) Compile();
        foreach (var input in _inputs)
            if (input.Value is null)
                throw new InvalidOperationException($"Input {input.Name} {input.Type} has no value: bind one with Graph.Let before running.");
        if (!Profiling)
        {
            foreach (var step in _steps) Execute(step);
            return;
        }
        foreach (var step in _steps)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Execute(step);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            step.ProfileSeconds += elapsed;
            Profile.TryGetValue(step.Op.Name, out var acc);
            Profile[step.Op.Name] = (acc.Seconds + elapsed, acc.Calls + 1);
        }
    }

    private static void Execute(Step step)
    {
        var args = step.Args;
        bool shapesChanged = step.Output is null || step.Op.ValueDependentShape;
        for (int i = 0; i < args.Length; i++)
        {
            var v = step.Inputs[i].Value!;
            args[i] = v;
            if (!shapesChanged && !v.Shape.SequenceEqual(step.LastShapes[i])) shapesChanged = true;
        }
        if (step.Op.IsView)
        {
            if (shapesChanged) Retype(step);
            step.Node.Value = step.Op.ForwardView(args);
            return;
        }
        if (shapesChanged)
        {
            var type = Retype(step);
            if (step.Output is null || step.Output.DType != type.DType || !step.Output.Shape.SequenceEqual(type.Shape))
            {
                step.Output?.Dispose();
                step.Output = Tensor.Empty(type.DType, type.Shape);
            }
        }
        step.Op.Forward(args, step.Output!);
        step.Node.Value = step.Output;
    }

    private static TensorType Retype(Step step)
    {
        var types = new TensorType[step.Args.Length];
        for (int i = 0; i < types.Length; i++)
        {
            types[i] = new TensorType(step.Args[i].DType, step.Args[i].ShapeArray());
            step.LastShapes[i] = types[i].Shape;
        }
        return step.Op.InferType(types, step.Args);
    }

    /// <summary>Returns every output buffer to the pool; node values computed by this machine become invalid.</summary>
    public void Dispose()
    {
        foreach (var s in _steps)
        {
            if (s.Output is not null && ReferenceEquals(s.Node.Value, s.Output)) s.Node.Value = null;
            s.Output?.Dispose();
            s.Output = null;
        }
    }
}
