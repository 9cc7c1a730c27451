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
        public object?[]? BoxedArgs;          // ValueOperation steps
        public double ProfileSeconds;
        public int Slot = -1;                 // buffer slot of the output (ReuseBuffers)
        public int[] ReleaseAfter = [];       // slots whose last reader is this step (ReuseBuffers)
    }

    /// <summary>A buffer shared by step outputs whose lifetimes do not overlap (ReuseBuffers).</summary>
    private sealed class Slot(TensorStorage storage)
    {
        public TensorStorage Storage = storage;
        public bool Busy;
    }

    private readonly List<Slot> _slots = [];

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

    /// <summary>
    /// Memory planning for inference: when set (machines built for given outputs only), a step's output goes into a
    /// buffer slot whose earlier values nobody reads any more (liveness over the tape, views keeping their source
    /// alive), so a model's activations occupy a few buffers that stay in cache instead of one buffer per step.
    /// Only the requested outputs are valid after <see cref="RunAll"/>; intermediate node values are overwritten.
    /// </summary>
    public bool ReuseBuffers
    {
        get => _reuse;
        init => _reuse = value && _outputs is not null;
    }

    private readonly bool _reuse;

    /// <summary>Number of distinct buffers holding step outputs when <see cref="ReuseBuffers"/> is set (else one per step).</summary>
    public int BufferCount => _reuse ? _slots.Count : _steps.Count(s => s.Output is not null);

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
        if (_outputs is not null) PlanLifetimes();
    }

    /// <summary>
    /// For each step, the steps whose outputs it reads last. A view's reader keeps the viewed buffer alive, so the last
    /// use of a buffer is the latest read of it or of any view of it; requested outputs live past the run.
    /// </summary>
    private void PlanLifetimes()
    {
        var index = new Dictionary<Node, int>();
        for (int i = 0; i < _steps.Length; i++) index[_steps[i].Node] = i;
        var last = new int[_steps.Length];
        for (int i = 0; i < _steps.Length; i++)
        {
            last[i] = i;   // a value nobody reads is free right after its step
            foreach (var input in _steps[i].Inputs)
                if (index.TryGetValue(input, out int j)) last[j] = Math.Max(last[j], i);
        }
        foreach (var o in _outputs!)
            if (index.TryGetValue(o, out int j)) last[j] = int.MaxValue;
        for (int i = _steps.Length - 1; i >= 0; i--)
            if (_steps[i].Op.IsView)
                foreach (var input in _steps[i].Inputs)
                    if (index.TryGetValue(input, out int j)) last[j] = Math.Max(last[j], last[i]);
        var release = new List<int>[_steps.Length];
        for (int j = 0; j < _steps.Length; j++)
        {
            if (_steps[j].Op.IsView || last[j] == int.MaxValue) continue;
            (release[last[j]] ??= []).Add(j);
        }
        for (int i = 0; i < _steps.Length; i++) _steps[i].ReleaseAfter = release[i] is { } r ? [.. r] : [];
    }

    /// <summary>Computes every node on the tape. Throws naming the input if one has no value bound.</summary>
    public void RunAll()
    {
        if (_outputs is null && _graph.Nodes.Count != _compiledNodeCount) Compile();
        foreach (var input in _inputs)
            if (input.AnyValue is null)
                throw new InvalidOperationException($"Input {input.Name} {input.Type} has no value: bind one with Graph.Let before running.");
        if (_reuse)
            foreach (var slot in _slots) slot.Busy = false;
        if (!Profiling)
        {
            foreach (var step in _steps)
            {
                Execute(step);
                if (_reuse) Release(step);
            }
            return;
        }
        foreach (var step in _steps)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Execute(step);
            if (_reuse) Release(step);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            step.ProfileSeconds += elapsed;
            Profile.TryGetValue(step.Op.Name, out var acc);
            Profile[step.Op.Name] = (acc.Seconds + elapsed, acc.Calls + 1);
        }
    }

    private void Execute(Step step)
    {
        if (step.Op is ValueOperation vo)
        {
            // Control flow and containers: the op returns a value that no slot backs (it copies what it keeps), so
            // memory planning needs no view-like liveness for it.
            var boxed = step.BoxedArgs ??= new object?[step.Inputs.Length];
            for (int i = 0; i < boxed.Length; i++) boxed[i] = step.Inputs[i].AnyValue;
            var result = vo.Evaluate(boxed);
            if (result is Tensor t) { step.Node.Value = t; step.Node.Boxed = null; }
            else { step.Node.Boxed = result; step.Node.Value = null; }
            return;
        }
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
                if (_reuse) AssignSlot(step, type);
                else
                {
                    step.Output?.Dispose();
                    step.Output = Tensor.Empty(type.DType, type.Shape);
                }
            }
        }
        if (_reuse) TakeSlot(step);
        step.Op.Forward(args, step.Output!);
        step.Node.Value = step.Output;
    }

    /// <summary>Frees the slots of the values this step was the last to read (ReuseBuffers).</summary>
    private void Release(Step step)
    {
        foreach (int j in step.ReleaseAfter)
            if (_steps[j].Slot >= 0) _slots[_steps[j].Slot].Busy = false;
    }

    /// <summary>
    /// Steady state: the step's slot from the last run is free again at this point (same shapes, same order of
    /// acquisitions and releases), so the output tensor is kept as it is and a run allocates nothing.
    /// </summary>
    private void TakeSlot(Step step)
    {
        if (step.Slot >= 0 && !_slots[step.Slot].Busy && ReferenceEquals(step.Output!.Storage, _slots[step.Slot].Storage))
        {
            _slots[step.Slot].Busy = true;
            return;
        }
        AssignSlot(step, new TensorType(step.Output!.DType, step.Output.ShapeArray()));
        _slots[step.Slot].Busy = true;
    }

    /// <summary>
    /// Picks a free slot for the step's output: the smallest of its dtype that is large enough, else the largest free
    /// one grown (its old buffer goes back to the pool), else a new slot; the output becomes a view of the slot.
    /// </summary>
    private void AssignSlot(Step step, TensorType type)
    {
        int need = ShapeMath.Count(type.Shape);
        int best = -1, largest = -1;
        for (int i = 0; i < _slots.Count; i++)
        {
            var sl = _slots[i];
            if (sl.Busy || sl.Storage.DType != type.DType) continue;
            int cap = sl.Storage.Length;
            if (cap >= need && (best < 0 || cap < _slots[best].Storage.Length)) best = i;
            if (largest < 0 || cap > _slots[largest].Storage.Length) largest = i;
        }
        if (best < 0 && largest >= 0)
        {
            _slots[largest].Storage.ReturnToPool();
            _slots[largest].Storage = TensorStorage.Allocate(type.DType, need, clear: false);
            best = largest;
        }
        if (best < 0)
        {
            _slots.Add(new Slot(TensorStorage.Allocate(type.DType, need, clear: false)));
            best = _slots.Count - 1;
        }
        step.Slot = best;
        step.Output = new Tensor(_slots[best].Storage, type.Shape, ShapeMath.RowMajorStrides(type.Shape), 0, ownsStorage: false);
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
            s.Slot = -1;
        }
        foreach (var slot in _slots) slot.Storage.ReturnToPool();
        _slots.Clear();
    }
}
