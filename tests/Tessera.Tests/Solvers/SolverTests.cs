using Tessera.Graphs;
using Tessera.Solvers;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Solvers;

/// <summary>Each solver fits a small least-squares problem (and a non-convex one) to a stated loss.</summary>
public class SolverTests
{
    /// <summary>y = X·w* + b* on 64 samples of 5 features, float32; returns the final mean squared error.</summary>
    private static double FitLinearRegression(Solver solver, int steps)
    {
        var g = new Graph();
        var rng = new Random(3);
        var xs = Tensor.RandomNormal(1, DType.Float32, 0, 1, 64, 5);
        var wTrue = Tensor.FromArray(new float[] { 1.5f, -2f, 0.5f, 3f, -1f }, 5, 1);
        var ys = Tensor.Empty(DType.Float32, 64, 1);
        for (int i = 0; i < 64; i++)
        {
            double s = 0.7;
            for (int j = 0; j < 5; j++) s += xs.GetDouble(i * 5 + j) * wTrue.GetDouble(j);
            ys.SetDouble(i, s);
        }
        var x = g.Constant(xs, "X");
        var y = g.Constant(ys, "y");
        var w = g.Input(DType.Float32, [5, 1], "w");
        var b = g.Input(DType.Float32, [1], "b");
        var loss = Mean(Square(MatMul(x, w) + b - y));
        var grads = Autodiff.Grad(loss, w, b);
        Graph.Let(w, Tensor.Zeros(DType.Float32, 5, 1));
        Graph.Let(b, Tensor.Zeros(DType.Float32, 1));
        var pairs = ValueGrad.Zip([w, b], grads);
        using var m = new TapeMachine(g);
        for (int step = 0; step < steps; step++)
        {
            m.RunAll();
            solver.Step(pairs);
        }
        m.RunAll();
        return loss.Value!.ToScalar();
    }

    public static TheoryData<string> Names() => ["sgd", "sgd_momentum", "sgd_nesterov", "sgd_weight_decay", "adam", "adamw", "rmsprop", "rmsprop_momentum"];

    private static (Solver Solver, int Steps, double MaxLoss) Make(string name) => name switch
    {
        "sgd" => (new Sgd(0.1), 300, 1e-6),
        "sgd_momentum" => (new Sgd(0.05, momentum: 0.9), 200, 1e-6),
        "sgd_nesterov" => (new Sgd(0.05, momentum: 0.9, nesterov: true), 200, 1e-6),
        // With L2 decay the optimum is shrunk toward 0, so the loss stays above zero but small.
        "sgd_weight_decay" => (new Sgd(0.1, weightDecay: 1e-3), 300, 1e-3),
        "adam" => (new Adam(0.1), 400, 1e-5),
        "adamw" => (new AdamW(0.1, weightDecay: 1e-4), 400, 1e-3),
        "rmsprop" => (new RmsProp(0.01), 600, 1e-4),
        "rmsprop_momentum" => (new RmsProp(0.005, momentum: 0.9), 400, 1e-4),
        _ => throw new ArgumentException(name),
    };

    [Theory, MemberData(nameof(Names))]
    public void Solver_fits_linear_regression_to_stated_loss(string name)
    {
        var (solver, steps, maxLoss) = Make(name);
        double loss = FitLinearRegression(solver, steps);
        Assert.True(loss < maxLoss, $"{name}: final MSE {loss:E3} ≥ {maxLoss:E1}");
    }

    [Fact]
    public void Adam_minimizes_the_rosenbrock_function()
    {
        var g = new Graph();
        var p = g.Input(DType.Float64, [2], "p");
        var a = Slice(p, 0, 0, 1);
        var b = Slice(p, 0, 1, 2);
        var f = Sum(Square(1.0 - a) + 100.0 * Square(b - Square(a)));
        var grad = Autodiff.Grad(f, p);
        Graph.Let(p, Tensor.FromArray(new double[] { -1.5, 2 }, 2));
        var solver = new Adam(0.02);
        using var m = new TapeMachine(g);
        for (int i = 0; i < 5000; i++) { m.RunAll(); solver.Step(ValueGrad.Zip([p], grad)); }
        m.RunAll();
        Assert.True(f.Value!.ToScalar() < 1e-6, $"Rosenbrock value {f.Value.ToScalar():E3}");
        Assert.Equal(1.0, p.Value!.GetDouble(0), 2);
    }

    [Fact]
    public void Sgd_step_matches_the_pytorch_update_rule_by_hand()
    {
        // p=1, g=2·p (loss p²), lr 0.1, momentum 0.9, nesterov, wd 0.1: d = 2 + 0.1 = 2.1; b = 2.1; d = 2.1 + 0.9·2.1 = 3.99
        var g = new Graph();
        var p = g.Input(DType.Float64, [1], "p");
        var grad = Autodiff.Grad(Sum(Square(p)), p);
        Graph.Let(p, Tensor.FromArray(new double[] { 1 }, 1));
        using var m = new TapeMachine(g);
        m.RunAll();
        new Sgd(0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1).Step(ValueGrad.Zip([p], grad));
        Assert.Equal(1 - 0.1 * 3.99, p.Value!.GetDouble(0), 12);
    }

    [Fact]
    public void Invalid_hyperparameters_are_rejected_naming_the_field()
    {
        Assert.Contains("learning rate", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-1)).Message);
        Assert.Contains("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: 1.0)).Message);
        Assert.Throws<ArgumentException>(() => new Sgd(0.1, nesterov: true));
    }
}
