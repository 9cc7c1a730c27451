using Tessera.Graphs;

namespace Tessera.Nn;

public sealed class ReLU : Module { public override Node Forward(Node x, ForwardContext ctx) => Ops.Relu(x); }
public sealed class Sigmoid : Module { public override Node Forward(Node x, ForwardContext ctx) => Ops.Sigmoid(x); }
public sealed class Tanh : Module { public override Node Forward(Node x, ForwardContext ctx) => Ops.Tanh(x); }

/// <summary>GELU, exact erf form (PyTorch's default).</summary>
public sealed class GELU : Module { public override Node Forward(Node x, ForwardContext ctx) => Ops.Gelu(x); }

public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    public double NegativeSlope { get; } = negativeSlope;
    public override Node Forward(Node x, ForwardContext ctx) => Ops.LeakyRelu(x, NegativeSlope);
}

public sealed class Softmax(int axis = -1) : Module
{
    public int Axis { get; } = axis;
    public override Node Forward(Node x, ForwardContext ctx) => Ops.Softmax(x, Axis);
}

/// <summary>Inverted dropout in training mode; the identity in eval mode.</summary>
public sealed class Dropout : Module
{
    public Dropout(double p = 0.5)
    {
        if (p is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: p must be in [0, 1), got {p}");
        P = p;
    }

    public double P { get; }
    public override Node Forward(Node x, ForwardContext ctx) => ctx.Training && P > 0 ? ctx.Dropout(x, P) : x;
}

/// <summary>Applies modules in order.</summary>
public sealed class Sequential : Module
{
    private readonly Module[] _layers;

    public Sequential(params Module[] layers)
    {
        _layers = layers;
        for (int i = 0; i < layers.Length; i++) AddModule(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    public IReadOnlyList<Module> Layers => _layers;

    public override Node Forward(Node x, ForwardContext ctx)
    {
        foreach (var layer in _layers) x = layer.Forward(x, ctx);
        return x;
    }
}
