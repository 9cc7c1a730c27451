using Tessera.Graphs;
using Tessera.Kernels;
using Tessera.Tests.Kernels;
using Xunit;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>
/// The inference rewrites a PyTorch transformer encoder meets: exported GELU → <see cref="FusedGeluOp"/> (exact,
/// and only for exactly that formula), transposed views copied into planned buffers before a reshape or a
/// projection, constant projection weights pre-packed, and attention's per-head products run in parallel — each
/// against the op-by-op graph.
/// </summary>
[Collection(nameof(GemmKernelState))]
public class TransformerFusionTests
{
    private static Node Scalar(Graph g, float v) => g.Constant(Tensor.Scalar(v));

    private static (float[] Plain, float[] Fused, string[] Ops) RunBoth(Graph g, Node x, Node y, Tensor input)
    {
        Graph.Let(x, input);
        using var plainMachine = new TapeMachine(g, y);
        plainMachine.RunAll();
        var plain = y.Value!.ToArray<float>();
        var fused = InferenceFusion.Fuse(g, [y], out var map);
        Graph.Let(map[x], input);
        using var fusedMachine = new TapeMachine(fused, map[y]) { ReuseBuffers = true };
        fusedMachine.RunAll();
        var needed = new HashSet<Node>();
        var stack = new Stack<Node>([map[y]]);
        while (stack.Count > 0) { var n = stack.Pop(); if (needed.Add(n)) foreach (var i in n.Inputs) stack.Push(i); }
        var ops = fused.Nodes.Where(n => n.Kind == NodeKind.Operation && needed.Contains(n)).Select(n => n.Operation!.Name).ToArray();
        return (plain, map[y].Value!.ToArray<float>(), ops);
    }

    /// <summary>PyTorch's export: Div(x, √2) → Erf → Add 1 → Mul x → Mul ½, with the given constants.</summary>
    private static Node ExportedGelu(Graph g, Node x, float div = FusedGeluOp.Sqrt2, float one = 1f, float half = 0.5f) =>
        Mul(Mul(x, Add(Erf(Div(x, Scalar(g, div))), Scalar(g, one))), Scalar(g, half));

    [Theory]
    [InlineData(3, 1001)]          // odd length: FastErf's scalar tail
    [InlineData(128, 2048)]        // a transformer FF activation at batch 1
    [InlineData(1, 2_100_003)]     // over the elementwise ops' parallel threshold: their chunks vs ours
    public void Exported_gelu_is_one_exact_step(int rows, int cols)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, cols], "x");
        var bias = Tensor.RandomNormal(1, DType.Float32, 0, 0.1, cols);
        var y = ExportedGelu(g, Add(x, g.Constant(bias)));
        var input = Tensor.RandomNormal(2, DType.Float32, 0, 3, rows, cols);   // values on both pieces of the erf fit
        var (plain, fused, ops) = RunBoth(g, x, y, input);
        Assert.Equal(["Add", "Gelu"], ops);
        Assert.Equal(plain, fused);
        // And it is GELU: x·Φ(x) with the double-precision error function.
        var xs = input.ToArray<float>();
        var bs = bias.ToArray<float>();
        for (int i = 0; i < Math.Min(xs.Length, 20000); i += 7)
        {
            double v = xs[i] + bs[i % cols];
            double expected = v * 0.5 * (1 + ErrorFunction.Erf(v / Math.Sqrt(2)));
            Assert.True(Math.Abs(fused[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"[{i}] {fused[i]} vs {expected}");
        }
    }

    [Theory]
    [InlineData(2f, 1f, 0.5f)]                       // a Div by 2 instead of √2
    [InlineData(1.4142134f, 1f, 0.5f)]               // √2 one float32 ulp low
    [InlineData(FusedGeluOp.Sqrt2, 0.5f, 0.5f)]      // Add ½ instead of 1
    [InlineData(FusedGeluOp.Sqrt2, 1f, 0.25f)]       // Mul ¼ instead of ½
    public void Other_constants_are_not_gelu(float div, float one, float half)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [4, 40], "x");
        var y = ExportedGelu(g, Add(x, Scalar(g, 0.1f)), div, one, half);
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(3, DType.Float32, 0, 2, 4, 40));
        Assert.DoesNotContain("Gelu", ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Gelu_with_a_shared_intermediate_or_another_x_is_left_alone()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [4, 40], "x");
        var h = Add(x, Scalar(g, 0.1f));
        var erf = Erf(Div(h, Scalar(g, FusedGeluOp.Sqrt2)));
        var y = Add(Mul(Mul(h, Add(erf, Scalar(g, 1f))), Scalar(g, 0.5f)), erf);   // erf read twice
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(4, DType.Float32, 0, 2, 4, 40));
        Assert.DoesNotContain("Gelu", ops);
        Assert.Equal(plain, fused);

        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [4, 40], "x");
        var a = Add(x2, Scalar(g2, 0.1f));
        var b = Add(x2, Scalar(g2, 0.2f));
        var y2 = Mul(Mul(b, Add(Erf(Div(a, Scalar(g2, FusedGeluOp.Sqrt2))), Scalar(g2, 1f))), Scalar(g2, 0.5f));   // x·Φ(a), a ≠ x
        var (plain2, fused2, ops2) = RunBoth(g2, x2, y2, Tensor.RandomNormal(5, DType.Float32, 0, 2, 4, 40));
        Assert.DoesNotContain("Gelu", ops2);
        Assert.Equal(plain2, fused2);
    }

    [Theory]
    [InlineData(128, 2048, "MatMul+Add+Gelu")]   // a transformer's feed-forward at batch 1: rows over the threads
    [InlineData(5, 64, "MatMul+Add+Gelu")]
    [InlineData(6, 100, "MatMul+Add,Gelu")]      // 100 columns: rows would not keep erf's vector lanes
    public void Gelu_of_a_linear_layer_joins_its_epilogue(int rows, int n, string expectedOps)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 96], "x");
        var w = g.Constant(Tensor.RandomNormal(20, DType.Float32, 0, 0.3, 96, n));
        var y = ExportedGelu(g, Add(MatMul(x, w), g.Constant(Tensor.RandomNormal(21, DType.Float32, 0, 1, n))));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(22, DType.Float32, 0, 1, rows, 96));
        Assert.Equal(expectedOps.Split(','), ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Gelu_stays_a_separate_step_when_the_product_has_another_reader()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [16, 32], "x");
        var h = Add(MatMul(x, g.Constant(Tensor.RandomNormal(23, DType.Float32, 0, 0.3, 32, 64))), g.Constant(Tensor.RandomNormal(24, DType.Float32, 0, 1, 64)));
        var y = Add(ExportedGelu(g, h), h);   // residual read of the pre-activation
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(25, DType.Float32, 0, 1, 16, 32));
        Assert.Equal(["MatMul+Add", "Gelu", "Add"], ops);
        Assert.Equal(plain, fused);
    }

    /// <summary>LayerNormalization as the ONNX importer spells it (OnnxOperators.Neural), over the given axes.</summary>
    private static Node ImportedLayerNorm(Graph g, Node x, Node scale, Node bias, int[] axes, float eps = 1e-5f)
    {
        var mean = Mean(x, axes, true);
        var d = Sub(x, mean);
        var inv = Reciprocal(Sqrt(Add(Mean(Square(d), axes, true), g.Constant(eps, DType.Float32))));
        return Add(Mul(Mul(d, inv), scale), bias);
    }

    [Theory]
    [InlineData(new[] { 2, 7, 512 })]
    [InlineData(new[] { 5, 100 })]     // row length not a multiple of the vector width
    public void Imported_layer_norm_is_one_exact_step(int[] shape)
    {
        int n = shape[^1];
        var g = new Graph();
        var x = g.Input(DType.Float32, [.. shape[..^1].Select(_ => -1), n], "x");
        var scale = g.Constant(Tensor.RandomNormal(30, DType.Float32, 1, 0.2, n));
        var bias = g.Constant(Tensor.RandomNormal(31, DType.Float32, 0, 0.2, n));
        var y = ImportedLayerNorm(g, Add(x, Scalar(g, 0.5f)), scale, bias, [shape.Length - 1]);
        var input = Tensor.RandomNormal(32, DType.Float32, 0.3, 2, shape);
        var (plain, fused, ops) = RunBoth(g, x, y, input);
        Assert.Equal(["Add", "LayerNorm"], ops);
        Assert.Equal(plain, fused);
        // And it normalizes: each row of (y − bias)/scale has mean 0 and variance 1 (ε aside).
        var sc = scale.Value!.ToArray<float>();
        var bi = bias.Value!.ToArray<float>();
        for (int r = 0; r < fused.Length / n; r++)
        {
            var z = Enumerable.Range(0, n).Select(j => ((double)fused[r * n + j] - bi[j]) / sc[j]).ToArray();
            double mu = z.Average(), var = z.Select(v => (v - mu) * (v - mu)).Average();
            Assert.True(Math.Abs(mu) < 1e-4 && Math.Abs(var - 1) < 1e-3, $"row {r}: mean {mu}, variance {var}");
        }
    }

    [Fact]
    public void Other_normalizations_are_not_fused()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [4, 6, 10], "x");
        var scale = g.Constant(Tensor.RandomNormal(33, DType.Float32, 1, 0.2, 10));
        var bias = g.Constant(Tensor.RandomNormal(34, DType.Float32, 0, 0.2, 10));
        var h = Add(x, Scalar(g, 0.5f));
        var overTwoAxes = ImportedLayerNorm(g, h, g.Constant(Tensor.RandomNormal(35, DType.Float32, 1, 0.2, 6, 10)), bias, [1, 2]);
        var (plain, fused, ops) = RunBoth(g, x, overTwoAxes, Tensor.RandomNormal(36, DType.Float32, 0, 1, 4, 6, 10));
        Assert.DoesNotContain("LayerNorm", ops);
        Assert.Equal(plain, fused);

        // x − mean also read outside the chain.
        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [4, 10], "x");
        var h2 = Add(x2, Scalar(g2, 0.5f));
        var mean = Mean(h2, [1], true);
        var d = Sub(h2, mean);
        var inv = Reciprocal(Sqrt(Add(Mean(Square(d), [1], true), g2.Constant(1e-5f, DType.Float32))));
        var y2 = Add(Add(Mul(Mul(d, inv), g2.Constant(Tensor.RandomNormal(37, DType.Float32, 1, 0.2, 10))), g2.Constant(Tensor.RandomNormal(38, DType.Float32, 0, 0.2, 10))), d);
        var (plain2, fused2, ops2) = RunBoth(g2, x2, y2, Tensor.RandomNormal(39, DType.Float32, 0, 1, 4, 10));
        Assert.DoesNotContain("LayerNorm", ops2);
        Assert.Equal(plain2, fused2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Attention_heads_merge_through_a_planned_copy(int batch)
    {
        // [H·B, S, D] per-head output → [S, B·H, D] → [S·B, H·D]: the reshape of the transposed view copies.
        const int heads = 4, seq = 9, dim = 8;
        var g = new Graph();
        var x = g.Input(DType.Float32, [heads * batch, seq, dim], "x");
        var y = Reshape(Permute(Add(x, Scalar(g, 1f)), 1, 0, 2), seq * batch, heads * dim);
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(6, DType.Float32, 0, 1, heads * batch, seq, dim));
        Assert.Equal(["Add", "Permute", "Identity", "Reshape"], ops);
        Assert.Equal(plain, fused);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Projection_of_a_transposed_input_is_one_tall_prepacked_gemm(int batch)
    {
        // batch_first input [B, S, D] transposed to [S, B, D], then x·W + b: copied once, then one (S·B)-row GEMM.
        const int seq = 40, d = 64, n = 96;
        var g = new Graph();
        var x = g.Input(DType.Float32, [batch, seq, d], "x");
        var w = g.Constant(Tensor.RandomNormal(7, DType.Float32, 0, 0.2, d, n));
        var y = Add(MatMul(Permute(x, 1, 0, 2), w), g.Constant(Tensor.RandomNormal(8, DType.Float32, 0, 1, n)));
        var input = Tensor.RandomNormal(9, DType.Float32, 0, 1, batch, seq, d);
        var (plain, fused, ops) = RunBoth(g, x, y, input);
        Assert.Equal(["Permute", "Identity", "MatMul+Add"], ops);
        Assert.Equal(plain, fused);
        var op = (FusedLinearOp)InferenceFusion.Fuse(g, [y], out _).Nodes.Last(nd => nd.Operation is FusedLinearOp).Operation!;
        Assert.True(op.ConstantWeight);
    }

    [Theory]
    [InlineData(3)]     // few rows: GEMV in the unfused graph only if x were copied, so it must not be
    [InlineData(40)]
    public void Product_of_a_matrix_transpose_reads_it_in_place(int rows)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [64, rows], "x");
        var y = Add(MatMul(Permute(x, 1, 0), g.Constant(Tensor.RandomNormal(40, DType.Float32, 0, 0.2, 64, 50))),
            g.Constant(Tensor.RandomNormal(41, DType.Float32, 0, 1, 50)));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(42, DType.Float32, 0, 1, 64, rows));
        Assert.Equal(["Permute", "MatMul+Add"], ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Prepacked_weight_serves_later_runs_with_other_inputs_and_a_variable_weight_is_not_packed()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 300], "x");
        var w = g.Constant(Tensor.RandomNormal(10, DType.Float32, 0, 0.2, 300, 70));
        var y = Add(MatMul(x, w), g.Constant(Tensor.RandomNormal(11, DType.Float32, 0, 1, 70)));
        var fused = InferenceFusion.Fuse(g, [y], out var map);
        using var plainMachine = new TapeMachine(g, y);
        using var fusedMachine = new TapeMachine(fused, map[y]);
        foreach (int rows in new[] { 64, 5, 3, 130 })   // 3 rows: the GEMV path, not the packed one
        {
            var input = Tensor.RandomNormal(12 + rows, DType.Float32, 0, 1, rows, 300);
            Graph.Let(x, input);
            Graph.Let(map[x], input);
            plainMachine.RunAll();
            fusedMachine.RunAll();
            Assert.Equal(y.Value!.ToArray<float>(), map[y].Value!.ToArray<float>());
        }

        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [6, 30], "x");
        var w2 = g2.Input(DType.Float32, [30, 20], "w");
        var y2 = Add(MatMul(x2, w2), g2.Constant(Tensor.RandomNormal(13, DType.Float32, 0, 1, 20)));
        var op = (FusedLinearOp)InferenceFusion.Fuse(g2, [y2], out _).Nodes.Last(nd => nd.Operation is FusedLinearOp).Operation!;
        Assert.False(op.ConstantWeight);
    }

    [Fact]
    public void Copies_of_a_fused_graph_share_one_packed_weight()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [64, 300], "x");
        var w = g.Constant(Tensor.RandomNormal(20, DType.Float32, 0, 0.2, 300, 70));
        var y = Add(MatMul(x, w), g.Constant(Tensor.RandomNormal(21, DType.Float32, 0, 1, 70)));
        var input = Tensor.RandomNormal(22, DType.Float32, 0, 1, 64, 300);
        var packs = new List<object?>();
        var outputs = new List<float[]>();
        for (int copy = 0; copy < 2; copy++)   // as a model's pooled instances or its per-shape plans
        {
            var fused = InferenceFusion.Fuse(g, [y], out var map);
            var op = Assert.IsType<FusedLinearOp>(map[y].Operation);
            Graph.Let(map[x], input);
            using var machine = new TapeMachine(fused, map[y]);
            machine.RunAll();
            packs.Add(op.PackedWeight);
            outputs.Add(map[y].Value!.ToArray<float>());
        }
        Assert.NotNull(packs[0]);
        Assert.Same(packs[0], packs[1]);
        Assert.Equal(outputs[0], outputs[1]);
    }

    [Fact]
    public void Per_head_products_in_parallel_equal_one_at_a_time()
    {
        var q = Tensor.RandomNormal(14, DType.Float32, 0, 1, 8, 128, 64);
        var kt = Tensor.RandomNormal(16, DType.Float32, 0, 1, 8, 128, 64).Permute(0, 2, 1);   // Kᵀ as a view
        var expected = Tensor.Empty(DType.Float32, 8, 128, 128);
        var actual = Tensor.Empty(DType.Float32, 8, 128, 128);
        long saved = MatMulKernel.BatchParallelWork;
        try
        {
            MatMulKernel.BatchParallelWork = 0;      // each product on its own, threaded inside
            MatMulKernel.Run<float>(q, kt, expected);
            MatMulKernel.BatchParallelWork = saved;  // products side by side
            MatMulKernel.Run<float>(q, kt, actual);
        }
        finally { MatMulKernel.BatchParallelWork = saved; }
        Assert.Equal(expected.ToArray<float>(), actual.ToArray<float>());
        // And both are the product: one head, one row, against a direct sum.
        var qa = q.ToArray<float>();
        var ka = kt.Contiguous().ToArray<float>();
        for (int j = 0; j < 128; j += 13)
        {
            double s = 0;
            for (int p = 0; p < 64; p++) s += (double)qa[(5 * 128 + 7) * 64 + p] * ka[(5 * 64 + p) * 128 + j];
            Assert.Equal(s, actual.ToArray<float>()[(5 * 128 + 7) * 128 + j], 1e-4);
        }
    }
}
