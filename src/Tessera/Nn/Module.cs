using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>
/// A network building block. Modules only build graph nodes (<see cref="Forward"/>); they register their
/// parameters and children in the constructor, so parameters are enumerated without reflection (NativeAOT-safe).
/// To write a custom module: derive, call <see cref="AddParameter"/> / <see cref="AddModule{T}"/> in the constructor,
/// and build the output in <see cref="Forward"/> from <see cref="Ops"/> and <see cref="ForwardContext.Bind"/>.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Parameter Parameter)> _parameters = [];
    private readonly List<(string Name, Module Module)> _children = [];

    /// <summary>Builds this module's output for input <paramref name="x"/> into <paramref name="ctx"/>'s graph.</summary>
    public abstract Node Forward(Node x, ForwardContext ctx);

    protected Parameter AddParameter(string name, Tensor value, bool trainable = true)
    {
        var p = new Parameter(name, value, trainable);
        _parameters.Add((name, p));
        return p;
    }

    protected T AddModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>All parameters and buffers, depth first, with dotted names ("0.weight", "2.running_mean").</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, m) in _children)
            foreach (var item in m.NamedParameters(prefix + n + "."))
                yield return item;
    }

    public IEnumerable<Parameter> TrainableParameters() => NamedParameters().Select(x => x.Parameter).Where(p => p.Trainable);

    public long ParameterCount => TrainableParameters().Sum(p => (long)p.Value.Length);

    public IEnumerable<(string Name, Module Module)> Children => _children;
}

/// <summary>
/// What a forward pass builds into: the graph, train or eval mode, the parameters bound as graph inputs, seeds for
/// random ops (dropout) and hooks that run after each training step (BatchNorm's running statistics).
/// </summary>
public sealed class ForwardContext(Graph graph, bool training, int seed = 0)
{
    private readonly Dictionary<Parameter, Node> _bound = [];
    private readonly List<DropoutMaskOp> _randomOps = [];
    private readonly List<Action> _afterStep = [];
    private int _seedCounter;

    public Graph Graph { get; } = graph;
    public bool Training { get; } = training;
    public int Seed { get; } = seed;

    /// <summary>The graph input holding <paramref name="p"/>'s value (created and bound on first use).</summary>
    public Node Bind(Parameter p)
    {
        if (_bound.TryGetValue(p, out var node)) return node;
        node = Graph.Input(p.Value.DType, p.Value.ShapeArray(), p.Name);
        Graph.Let(node, p.Value);
        _bound[p] = node;
        return node;
    }

    public IReadOnlyDictionary<Parameter, Node> Bound => _bound;

    /// <summary>A dropout mask op with a deterministic seed derived from the context seed.</summary>
    public Node Dropout(Node x, double p)
    {
        var op = new DropoutMaskOp(p, DeriveSeed(Seed, _seedCounter++));
        _randomOps.Add(op);
        return Ops.Mul(x, Graph.Apply(op, x));
    }

    /// <summary>Restarts every random op from a seed derived from <paramref name="seed"/> (the trainer does this per epoch).</summary>
    public void Reseed(int seed)
    {
        for (int i = 0; i < _randomOps.Count; i++) _randomOps[i].Reseed(DeriveSeed(seed, i));
    }

    public void OnAfterStep(Action hook) => _afterStep.Add(hook);

    /// <summary>Runs the hooks registered by modules; call after each training run of the machine.</summary>
    public void AfterStep()
    {
        foreach (var h in _afterStep) h();
    }

    /// <summary>A deterministic mix of two ints (SplitMix64 finalizer); HashCode.Combine is randomized per process.</summary>
    public static int DeriveSeed(int seed, int index)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}
