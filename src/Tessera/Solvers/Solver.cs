using System.Numerics;
using Tessera.Graphs;

namespace Tessera.Solvers;

/// <summary>A trainable value and the node computing its gradient (from <see cref="Autodiff.Grad"/>).</summary>
public sealed record ValueGrad(Node Value, Node Grad)
{
    /// <summary>Pairs each parameter with its gradient node, as <c>Autodiff.Grad(cost, parameters)</c> returns them.</summary>
    public static ValueGrad[] Zip(Node[] parameters, Node[] grads) =>
        [.. parameters.Select((p, i) => new ValueGrad(p, grads[i]))];
}

/// <summary>
/// Updates parameters in place from their gradients after a machine run (Gorgonia's solvers). Parameter values
/// must be float32 or float64 tensors bound to input nodes; per-parameter state (momentum, moments) is keyed by node.
/// </summary>
public abstract class Solver
{
    private readonly Dictionary<Node, Tensor[]> _state = [];

    /// <summary>Step size; schedules change it between steps.</summary>
    public double LearningRate { get; set; }

    /// <summary>Number of steps taken so far.</summary>
    public long Steps { get; protected set; }

    protected Solver(double learningRate)
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), $"learning rate must be positive and finite, got {learningRate}");
        LearningRate = learningRate;
    }

    /// <summary>Applies one update to every parameter from the gradient values of the last run.</summary>
    public void Step(IReadOnlyList<ValueGrad> pairs)
    {
        Steps++;
        for (int i = 0; i < pairs.Count; i++)
        {
            var (value, grad) = pairs[i];
            var p = value.Value ?? throw new InvalidOperationException($"Solver: parameter {value.Name} has no value.");
            var g = grad.Value ?? throw new InvalidOperationException($"Solver: the gradient of {value.Name} has not been computed (run the machine first).");
            if (!p.Shape.SequenceEqual(g.Shape))
                throw new ShapeMismatchException(GetType().Name, $"parameter {value.Name} has shape {p.ShapeString}, its gradient {g.ShapeString}");
            if (!p.IsContiguous) throw new InvalidOperationException($"Solver: parameter {value.Name} must be contiguous.");
            if (!_state.TryGetValue(value, out var state))
                _state[value] = state = [.. Enumerable.Range(0, StateSlots).Select(_ => Tensor.Zeros(p.DType, p.ShapeArray()))];
            var gc = g.Contiguous();
            if (p.DType == DType.Float32) Update(p.AsSpan<float>(), gc.AsSpan<float>(), state);
            else if (p.DType == DType.Float64) Update(p.AsSpan<double>(), gc.AsSpan<double>(), state);
            else throw new DTypeMismatchException(GetType().Name, $"parameter {value.Name} has dtype {p.DType.Name()}; solvers update float32 or float64");
        }
    }

    /// <summary>Per-parameter state tensors (e.g. momentum buffer, first and second moments), for checkpoints.</summary>
    public IReadOnlyDictionary<Node, Tensor[]> State => _state;

    /// <summary>Restores a parameter's state and the step count from a checkpoint (tensors are copied).</summary>
    public void RestoreState(Node value, IReadOnlyList<Tensor> state, long steps)
    {
        if (state.Count != StateSlots)
            throw new InvalidDataException($"{GetType().Name} keeps {StateSlots} state tensors per parameter; the checkpoint has {state.Count} for {value.Name}.");
        _state[value] = [.. state.Select(t => t.Clone())];
        Steps = steps;
    }

    /// <summary>How many state tensors of the parameter's shape this solver keeps.</summary>
    protected abstract int StateSlots { get; }

    /// <summary>One update of parameter <paramref name="p"/> from gradient <paramref name="g"/> (step count already advanced).</summary>
    protected abstract void Update<T>(Span<T> p, ReadOnlySpan<T> g, Tensor[] state) where T : unmanaged, IFloatingPointIeee754<T>;
}
