using Tessera.Graphs;

namespace Tessera.Tests.Graphs;

/// <summary>Central finite differences against symbolic gradients, in float64.</summary>
internal static class GradientChecker
{
    /// <summary>
    /// Builds f over inputs bound to <paramref name="values"/>, forms cost = Σ f(x)·r with a fixed random r, and
    /// compares ∂cost/∂x from <see cref="Autodiff.Grad"/> with (cost(x+h) − cost(x−h)) / 2h for every element of every
    /// float input. Returns the largest error relative to max(1, |numeric|).
    /// </summary>
    public static double MaxError(Func<Node[], Node> f, Tensor[] values, double h = 1e-6, int order = 1)
    {
        var g = new Graph();
        var inputs = values.Select((v, i) => g.Input(v.DType, v.ShapeArray(), $"x{i}")).ToArray();
        var y = f(inputs);
        var r = Tensor.RandomUniform(1234, DType.Float64, -1, 1, ResolveShape(y, inputs, values));
        var cost = Ops.Sum(Ops.Mul(y, g.Constant(r)));
        var wrt = inputs.Where(n => n.DType == DType.Float64).ToArray();
        var grads = Autodiff.Grad(cost, wrt);
        Node target = cost;
        Node[] checkGrads = grads;
        if (order == 2)
        {
            // Check the gradient of s = Σ ∂cost/∂x · r2 — i.e. Hessian-vector products — against differences of s.
            var parts = grads.Select((gr, i) => Ops.Sum(Ops.Mul(gr, g.Constant(Tensor.RandomUniform(99 + i, DType.Float64, -1, 1, wrt[i].Shape))))).ToArray();
            target = parts.Aggregate(Ops.Add);
            checkGrads = Autodiff.Grad(target, wrt);
        }
        using var m = new TapeMachine(g);
        for (int i = 0; i < inputs.Length; i++) Graph.Let(inputs[i], values[i]);
        m.RunAll();
        var analytic = checkGrads.Select(n => n.Value!.ToDoubleArray()).ToArray();
        double worst = 0;
        for (int w = 0; w < wrt.Length; w++)
        {
            var x = values[Array.IndexOf(inputs, wrt[w])];
            for (int e = 0; e < x.Length; e++)
            {
                double orig = x.GetDouble(e);
                x.SetDouble(e, orig + h); m.RunAll(); double up = target.Value!.ToScalar();
                x.SetDouble(e, orig - h); m.RunAll(); double down = target.Value!.ToScalar();
                x.SetDouble(e, orig);
                double numeric = (up - down) / (2 * h);
                worst = Math.Max(worst, Math.Abs(numeric - analytic[w][e]) / Math.Max(1, Math.Abs(numeric)));
            }
        }
        return worst;
    }

    private static int[] ResolveShape(Node y, Node[] inputs, Tensor[] values)
    {
        if (y.Type.IsFullyKnown) return y.Shape;
        var g = y.Graph;
        using var m = new TapeMachine(g, y);
        for (int i = 0; i < inputs.Length; i++) Graph.Let(inputs[i], values[i]);
        m.RunAll();
        return y.Value!.ShapeArray();
    }

    public static Tensor Rand(int seed, double lo, double hi, params int[] shape) => Tensor.RandomUniform(seed, DType.Float64, lo, hi, shape);

    /// <summary>Uniform values in [lo, hi] with a random sign — keeps |x| away from kinks at 0.</summary>
    public static Tensor RandAwayFromZero(int seed, double lo, double hi, params int[] shape)
    {
        var t = Rand(seed, lo, hi, shape);
        var rng = new Random(seed + 7);
        for (int i = 0; i < t.Length; i++) if (rng.Next(2) == 0) t.SetDouble(i, -t.GetDouble(i));
        return t;
    }
}
