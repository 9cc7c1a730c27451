using System.Text.Json;
using Tessera.Graphs;
using Tessera.Nn;
using Tessera.Tests.Fixtures;
using O = Tessera.Graphs.Ops;

namespace Tessera.Tests.Nn;

/// <summary>
/// One PyTorch 1.13 layer case from <c>tests/fixtures/layers/layers.json</c> (written by
/// <c>tools/fixtures/make_layer_fixtures.py</c>).
/// </summary>
public sealed class TorchLayerCase
{
    public required string Name { get; init; }
    public required string Module { get; init; }
    public required JsonElement Args { get; init; }
    public required bool Training { get; init; }
    public required IReadOnlyDictionary<string, Tensor> State { get; init; }
    public required Tensor[] Inputs { get; init; }
    public required Tensor Output { get; init; }
    public required Tensor GradOutput { get; init; }
    public required Tensor?[] InputGrads { get; init; }
    public required IReadOnlyDictionary<string, Tensor> ParamGrads { get; init; }
    public IReadOnlyDictionary<string, Tensor>? StateAfter { get; init; }

    public override string ToString() => Name;
}

public static class TorchLayerFixture
{
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", "layers", "layers.json");

    private static readonly Lazy<IReadOnlyDictionary<string, TorchLayerCase>> s_all = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path));
        var all = new Dictionary<string, TorchLayerCase>(StringComparer.Ordinal);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var name = e.GetProperty("name").GetString()!;
            var c = new TorchLayerCase
            {
                Name = name,
                Module = e.GetProperty("module").GetString()!,
                Args = e.GetProperty("args").Clone(),
                Training = e.GetProperty("training").GetBoolean(),
                State = Tensors(e.GetProperty("state")),
                Inputs = [.. e.GetProperty("inputs").EnumerateArray().Select(TorchFixture.ParseTensor)],
                Output = TorchFixture.ParseTensor(e.GetProperty("output")),
                GradOutput = TorchFixture.ParseTensor(e.GetProperty("grad_output")),
                InputGrads = [.. e.GetProperty("input_grads").EnumerateArray()
                    .Select(gr => gr.ValueKind == JsonValueKind.Null ? null : TorchFixture.ParseTensor(gr))],
                ParamGrads = Tensors(e.GetProperty("param_grads")),
                StateAfter = e.TryGetProperty("state_after", out var sa) ? Tensors(sa) : null,
            };
            if (!all.TryAdd(name, c)) throw new InvalidDataException($"Duplicate layer fixture case {name}.");
        }
        return all;
    });

    public static IReadOnlyDictionary<string, TorchLayerCase> All => s_all.Value;

    public static TorchLayerCase Get(string name) =>
        All.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"No layer fixture case named {name} in {Path}.");

    private static Dictionary<string, Tensor> Tensors(JsonElement obj) =>
        obj.EnumerateObject().ToDictionary(p => p.Name, p => TorchFixture.ParseTensor(p.Value), StringComparer.Ordinal);
}

/// <summary>
/// Every nn layer against PyTorch 1.13: the module is built with PyTorch's constructor arguments, the PyTorch
/// state_dict is loaded by name (every name must exist on both sides), and the output, d(sum(y * gy))/d(input),
/// d(sum(y * gy))/d(parameter) and, for train-mode BatchNorm, the updated running statistics are compared.
/// </summary>
public class TorchLayerFixtureTests
{
    private const double Rtol = 1e-9, Atol = 1e-10;

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var name in TorchLayerFixture.All.Keys) data.Add(name);
        return data;
    }

    [Fact]
    public void FixtureCoversEveryLayerKind()
    {
        var kinds = TorchLayerFixture.All.Values.Select(c => c.Module).ToHashSet();
        string[] expected = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool", "Flatten", "BatchNorm1d", "BatchNorm2d",
            "LayerNorm", "Embedding", "ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "Dropout", "Sequential", "MultiheadAttention"];
        Assert.Empty(expected.Except(kinds));
        Assert.Contains(TorchLayerFixture.All.Values, c => c.Module == "BatchNorm2d" && c.Training);
        Assert.Contains(TorchLayerFixture.All.Values, c => c.Module == "BatchNorm2d" && !c.Training);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string name)
    {
        var c = TorchLayerFixture.Get(name);
        var module = Build(c.Module, c.Args);

        // Parameter naming must match PyTorch's state_dict keys exactly, in both directions.
        var named = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter, StringComparer.Ordinal);
        var missing = c.State.Keys.Except(named.Keys).ToList();
        var extra = named.Keys.Except(c.State.Keys).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{name}: state_dict names differ; not in Tessera [{string.Join(", ", missing)}], not in PyTorch [{string.Join(", ", extra)}]");
        var trainable = named.Where(p => p.Value.Trainable).Select(p => p.Key).Order(StringComparer.Ordinal);
        Assert.Equal(c.ParamGrads.Keys.Order(StringComparer.Ordinal), trainable);
        foreach (var (n, t) in c.State) named[n].Load(t);

        var g = new Graph();
        var ctx = new ForwardContext(g, training: c.Training);
        Assert.Single(c.Inputs);
        var input = c.Inputs[0];
        bool floatInput = c.InputGrads[0] is not null;
        var x = floatInput ? g.Input(input.DType, input.ShapeArray(), "x") : g.Constant(input, "x");
        var y = module.Forward(x, ctx);

        var wrt = new List<(string What, Node Node, Tensor Expected)>();
        if (floatInput) wrt.Add(("grad[input]", x, c.InputGrads[0]!));
        foreach (var (n, expected) in c.ParamGrads)
        {
            Assert.True(ctx.Bound.TryGetValue(named[n], out var bound), $"{name}: trainable parameter {n} was not bound by Forward");
            wrt.Add(($"grad[{n}]", bound!, expected));
        }
        var cost = O.Sum(O.Mul(y, g.Constant(c.GradOutput, "gy")));
        var grads = Autodiff.Grad(cost, [.. wrt.Select(w => w.Node)]);
        using var m = new TapeMachine(g);
        if (floatInput) Graph.Let(x, input);
        m.RunAll();

        var failures = new List<string>();
        TorchFixtureTests.Compare(failures, "output", c.Output, y.Value, Rtol, Atol);
        for (int k = 0; k < wrt.Count; k++)
            TorchFixtureTests.Compare(failures, wrt[k].What, wrt[k].Expected, grads[k].Value, Rtol, Atol);
        if (c.StateAfter is not null)
        {
            ctx.AfterStep();
            foreach (var (n, expected) in c.StateAfter)
                TorchFixtureTests.Compare(failures, $"after step: {n}", expected, named[n].Value, Rtol, Atol);
        }
        Assert.True(failures.Count == 0, $"{name} ({c.Module} {c.Args}, training={c.Training}):\n  " + string.Join("\n  ", failures));
    }

    /// <summary>The Tessera module for a PyTorch module kind and its constructor arguments (float64).</summary>
    internal static Module Build(string kind, JsonElement a)
    {
        const DType F64 = DType.Float64;
        int I(string n) => a.GetProperty(n).GetInt32();
        int? OptI(string n) => a.TryGetProperty(n, out var v) && v.ValueKind != JsonValueKind.Null ? v.GetInt32() : null;
        double D(string n) => a.GetProperty(n).GetDouble();
        bool B(string n) => a.GetProperty(n).GetBoolean();
        return kind switch
        {
            "Linear" => new Linear(I("in_features"), I("out_features"), bias: B("bias"), dtype: F64),
            "Conv2d" => new Conv2d(I("in_channels"), I("out_channels"), I("kernel_size"), stride: I("stride"), padding: I("padding"),
                dilation: I("dilation"), groups: I("groups"), bias: B("bias"), dtype: F64),
            "MaxPool2d" => new MaxPool2d(I("kernel_size"), OptI("stride"), I("padding")),
            "AvgPool2d" => new AvgPool2d(I("kernel_size"), OptI("stride"), I("padding"), B("count_include_pad")),
            "GlobalAvgPool" => new GlobalAvgPool2d(),
            "Flatten" => new Flatten(),
            "BatchNorm1d" => new BatchNorm1d(I("num_features"), D("eps"), D("momentum"), F64),
            "BatchNorm2d" => new BatchNorm2d(I("num_features"), D("eps"), D("momentum"), F64),
            "LayerNorm" => new LayerNorm([.. a.GetProperty("normalized_shape").EnumerateArray().Select(e => e.GetInt32())], D("eps"), dtype: F64),
            "Embedding" => new Embedding(I("num_embeddings"), I("embedding_dim"), dtype: F64),
            "ReLU" => new ReLU(),
            "LeakyReLU" => new LeakyReLU(D("negative_slope")),
            "GELU" => new GELU(),
            "Sigmoid" => new Sigmoid(),
            "Tanh" => new Tanh(),
            "Softmax" => new Softmax(I("dim")),
            "Dropout" => new Dropout(D("p")),
            "Sequential" => new Sequential([.. a.GetProperty("layers").EnumerateArray()
                .Select(l => Build(l.GetProperty("module").GetString()!, l.GetProperty("args")))]),
            "MultiheadAttention" => B("batch_first")
                ? new MultiHeadAttention(I("embed_dim"), I("num_heads"), dtype: F64)
                : throw new NotSupportedException("MultiHeadAttention is batch-first only."),
            _ => throw new NotSupportedException($"No Tessera module for PyTorch kind '{kind}'."),
        };
    }
}

/// <summary>The loss fixtures (tests/fixtures/ops/losses.json) through <see cref="Losses"/>.</summary>
public class TorchLossFixtureTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in TorchFixture.Family("losses")) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorch(string name)
    {
        var c = TorchFixture.Get(name);
        Assert.Equal("mean", c.Attrs.GetProperty("reduction").GetString());
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
        var y = c.Op switch
        {
            "cross_entropy" => Losses.CrossEntropy(nodes[0], nodes[1], c.Double("label_smoothing")),
            "nll_loss" => Losses.Nll(nodes[0], nodes[1]),
            "mse_loss" => Losses.Mse(nodes[0], nodes[1]),
            "bce_with_logits" => Losses.BceWithLogits(nodes[0], nodes[1]),
            _ => throw new NotSupportedException($"{name}: no loss builder for '{c.Op}'."),
        };
        var cost = O.Sum(O.Mul(y, g.Constant(c.GradOutput, "gy")));
        var grads = Autodiff.Grad(cost, [.. wrt.Select(w => w.Node)]);
        using var m = new TapeMachine(g);
        foreach (var (i, node) in wrt) Graph.Let(node, c.Inputs[i]);
        m.RunAll();

        var failures = new List<string>();
        TorchFixtureTests.Compare(failures, "output", c.Output, y.Value, 1e-9, 1e-10);
        for (int k = 0; k < wrt.Count; k++)
            TorchFixtureTests.Compare(failures, $"grad[{wrt[k].Index}]", c.Grads[wrt[k].Index]!, grads[k].Value, 1e-9, 1e-10);
        Assert.True(failures.Count == 0, $"{name} ({c.Op} {c.Attrs}):\n  " + string.Join("\n  ", failures));
    }

    [Fact]
    public void AllLossKindsPresent()
    {
        var ops = TorchFixture.Family("losses").Select(c => c.Op).ToHashSet();
        Assert.Superset(new HashSet<string>(["cross_entropy", "nll_loss", "mse_loss", "bce_with_logits"]), ops);
        Assert.Contains(TorchFixture.Family("losses"), c => c.Op == "cross_entropy" && c.Double("label_smoothing") > 0);
    }
}
