using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>
/// Multi-head scaled dot-product attention over (N, L, E) inputs (batch first), parametrized as PyTorch's
/// nn.MultiheadAttention: in_proj_weight (3E, E), in_proj_bias (3E), out_proj.weight (E, E), out_proj.bias (E).
/// </summary>
public sealed class MultiHeadAttention : Module
{
    public MultiHeadAttention(int embedDim, int numHeads, int seed = 0, DType dtype = DType.Float32)
    {
        if (embedDim < 1 || numHeads < 1 || embedDim % numHeads != 0)
            throw new ArgumentException($"MultiHeadAttention: embed_dim={embedDim} must be a positive multiple of num_heads={numHeads}.");
        EmbedDim = embedDim; NumHeads = numHeads;
        // PyTorch initializes in_proj_weight with xavier_uniform and the biases with 0.
        double bound = Math.Sqrt(6.0 / (embedDim + 3 * embedDim));
        InProjWeight = AddParameter("in_proj_weight", Tensor.RandomUniform(seed, dtype, -bound, bound, 3 * embedDim, embedDim));
        InProjBias = AddParameter("in_proj_bias", Tensor.Zeros(dtype, 3 * embedDim));
        OutProj = AddModule("out_proj", new Linear(embedDim, embedDim, seed: seed + 1, dtype: dtype));
        OutProj.Bias!.Value.Fill(0);
    }

    public int EmbedDim { get; }
    public int NumHeads { get; }
    public Parameter InProjWeight { get; }
    public Parameter InProjBias { get; }
    public Linear OutProj { get; }

    /// <summary>Self-attention: query = key = value = x.</summary>
    public override Node Forward(Node x, ForwardContext ctx) => Forward(x, x, x, ctx);

    public Node Forward(Node query, Node key, Node value, ForwardContext ctx)
    {
        int e = EmbedDim, h = NumHeads, d = e / h;
        foreach (var t in new[] { query, key, value })
            if (t.Rank != 3 || (t.Shape[2] != e && t.Shape[2] != -1))
                throw new ShapeMismatchException("MultiHeadAttention", $"input {ShapeMath.Format(t.Shape)} must be (N, L, {e})");
        var w = ctx.Bind(InProjWeight);
        var b = ctx.Bind(InProjBias);
        Node Project(Node x, int part)
        {
            var wp = Ops.Slice(w, 0, part * e, (part + 1) * e);
            var bp = Ops.Slice(b, 0, part * e, (part + 1) * e);
            var y = Ops.Add(Ops.MatMul(x, Ops.Transpose(wp)), bp);          // (N, L, E)
            int len = x.Shape[1];
            return Ops.Permute(Ops.Reshape(y, -1, len, h, d), 0, 2, 1, 3);  // (N, H, L, D)
        }
        var q = Project(query, 0);
        var k = Project(key, 1);
        var v = Project(value, 2);
        var scores = Ops.MatMul(q, Ops.Transpose(k)) * (1 / Math.Sqrt(d));  // (N, H, Lq, Lk)
        var attended = Ops.MatMul(Ops.Softmax(scores, -1), v);               // (N, H, Lq, D)
        var merged = Ops.Reshape(Ops.Permute(attended, 0, 2, 1, 3), -1, query.Shape[1], e);
        return OutProj.Forward(merged, ctx);
    }
}
