using Tessera.Graphs;
using O = Tessera.Graphs.Ops;

namespace Tessera.Tests.Fixtures;

/// <summary>
/// Every op against PyTorch 1.13 references (tests/fixtures/ops/*.json, from tools/fixtures/make_op_fixtures.py):
/// builds the op in a graph, runs it, and checks the output and d(sum(y * gy))/d(input) for each float input.
/// </summary>
public class TorchFixtureTests
{
    /// <summary>Op families checked here; "losses" is checked through Nn.Losses by Tessera.Tests.Nn.TorchLossFixtureTests.</summary>
    private static readonly HashSet<string> s_families =
        ["unary", "binary", "where", "reductions", "softmax", "matmul", "shape", "conv2d", "pool", "float32"];

    /// <summary>Case names (xunit shows them as the theory argument).</summary>
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in TorchFixture.All.Values.OrderBy(c => c.Family, StringComparer.Ordinal))
        {
            if (!s_families.Contains(c.Family)) continue;
            data.Add(c.Name);
        }
        return data;
    }

    /// <summary>Every fixture file (losses included) parses, and each gradient has its input's shape and dtype.</summary>
    [Fact]
    public void FixtureFilesAreConsistent()
    {
        var all = TorchFixture.All.Values.ToList();
        Assert.NotEmpty(all);
        foreach (var family in s_families.Append("losses"))
            Assert.Contains(all, c => c.Family == family);
        foreach (var c in all)
        {
            Assert.True(c.Inputs.Length == c.Grads.Length, $"{c.Name}: {c.Inputs.Length} inputs, {c.Grads.Length} grads");
            Assert.True(c.Output.Shape.SequenceEqual(c.GradOutput.Shape), $"{c.Name}: grad_output shape differs from output");
            for (int i = 0; i < c.Inputs.Length; i++)
            {
                var gr = c.Grads[i];
                if (gr is null) continue;
                Assert.True(gr.Shape.SequenceEqual(c.Inputs[i].Shape) && gr.DType == c.Inputs[i].DType,
                    $"{c.Name}: grad[{i}] is {gr.DType} {gr.ShapeString}, input is {c.Inputs[i].DType} {c.Inputs[i].ShapeString}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string name)
    {
        var c = TorchFixture.Get(name);
        var g = new Graph();
        var nodes = new Node[c.Inputs.Length];
        var wrt = new List<(int Index, Node Node)>();
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var t = c.Inputs[i];
            if (c.Grads[i] is not null)
            {
                nodes[i] = g.Input(t.DType, t.ShapeArray(), $"in{i}");
                wrt.Add((i, nodes[i]));
            }
            else nodes[i] = g.Constant(t, $"in{i}");
        }

        var y = Build(c, nodes);
        var cost = O.Sum(O.Mul(y, g.Constant(c.GradOutput, "gy")));
        var grads = Autodiff.Grad(cost, [.. wrt.Select(w => w.Node)]);
        using var m = new TapeMachine(g);
        foreach (var (i, node) in wrt) Graph.Let(node, c.Inputs[i]);
        m.RunAll();

        bool f32 = c.Output.DType == DType.Float32;
        double rtol = f32 ? 1e-4 : 1e-9, atol = f32 ? 1e-4 : 1e-10;
        var failures = new List<string>();
        Compare(failures, "output", c.Output, y.Value, rtol, atol);
        for (int k = 0; k < wrt.Count; k++)
            Compare(failures, $"grad[{wrt[k].Index}]", c.Grads[wrt[k].Index]!, grads[k].Value, rtol, atol);
        Assert.True(failures.Count == 0, $"{c.Name} ({c.Op} {c.Attrs}):\n  " + string.Join("\n  ", failures));
    }

    private static Node Build(TorchFixtureCase c, Node[] x) => c.Op switch
    {
        "neg" => O.Neg(x[0]),
        "abs" => O.Abs(x[0]),
        "exp" => O.Exp(x[0]),
        "log" => O.Log(x[0]),
        "sqrt" => O.Sqrt(x[0]),
        "square" => O.Square(x[0]),
        "reciprocal" => O.Reciprocal(x[0]),
        "tanh" => O.Tanh(x[0]),
        "sigmoid" => O.Sigmoid(x[0]),
        "relu" => O.Relu(x[0]),
        "leaky_relu" => O.LeakyRelu(x[0], c.Double("alpha")),
        "sin" => O.Sin(x[0]),
        "cos" => O.Cos(x[0]),
        "softplus" => O.Softplus(x[0]),
        "gelu" => O.Gelu(x[0]),

        "add" => O.Add(x[0], x[1]),
        "sub" => O.Sub(x[0], x[1]),
        "mul" => O.Mul(x[0], x[1]),
        "div" => O.Div(x[0], x[1]),
        "pow" => O.Pow(x[0], x[1]),
        "maximum" => O.Maximum(x[0], x[1]),
        "minimum" => O.Minimum(x[0], x[1]),
        "where" => O.Where(x[0], x[1], x[2]),

        "sum" => O.Sum(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "mean" => O.Mean(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "max" => O.Max(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "min" => O.Min(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "prod" => O.Prod(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "logsumexp" => O.LogSumExp(x[0], c.Ints("axes"), c.Bool("keepdims")),
        "softmax" => O.Softmax(x[0], c.Int("axis")),
        "log_softmax" => O.LogSoftmax(x[0], c.Int("axis")),

        "matmul" => O.MatMul(x[0], x[1]),
        "reshape" => O.Reshape(x[0], c.Ints("shape")!),
        "permute" => O.Permute(x[0], c.Ints("axes")!),
        "expand" => O.Expand(x[0], c.Ints("shape")!),
        "slice" => O.Slice(x[0], c.Int("axis"), c.Int("start"), c.Int("end"), c.Int("step")),
        "concat" => O.Concat(c.Int("axis"), x),
        "gather" => O.Gather(x[0], x[1], c.Int("axis")),
        "pad" => O.Pad(x[0], c.Ints("pads")!, c.Double("value")),

        "conv2d" => O.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null,
            c.Ints("strides"), c.Ints("pads"), c.Ints("dilations"), c.Int("groups")),
        "max_pool2d" => O.MaxPool2d(x[0], c.Ints("kernel")!, c.Ints("strides"), c.Ints("pads")),
        "avg_pool2d" => O.AvgPool2d(x[0], c.Ints("kernel")!, c.Ints("strides"), c.Ints("pads"), c.Bool("count_include_pad")),

        _ => throw new NotSupportedException($"{c.Name}: no graph builder for fixture op '{c.Op}'."),
    };

    internal static void Compare(List<string> failures, string what, Tensor expected, Tensor? actual, double rtol, double atol)
    {
        if (actual is null) { failures.Add($"{what}: no value computed"); return; }
        if (!expected.Shape.SequenceEqual(actual.Shape))
        {
            failures.Add($"{what}: shape {actual.ShapeString}, expected {expected.ShapeString}");
            return;
        }
        if (actual.DType != expected.DType)
            failures.Add($"{what}: dtype {actual.DType}, expected {expected.DType}");
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        int bad = 0, worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs(a[i] - e[i]), tol = atol + rtol * Math.Abs(e[i]);
            if (err <= tol && !double.IsNaN(a[i])) continue;
            bad++;
            double excess = double.IsNaN(a[i]) ? double.PositiveInfinity : err / tol;
            if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
        }
        if (bad > 0)
            failures.Add($"{what}: {bad}/{e.Length} elements off; worst at flat index {worst}: expected {e[worst]:R}, actual {a[worst]:R} " +
                         $"(|diff| {Math.Abs(a[worst] - e[worst]):G3}); first values expected [{Head(e)}] actual [{Head(a)}]");
    }

    private static string Head(double[] v) => string.Join(", ", v.Take(6).Select(d => d.ToString("G6")));
}
