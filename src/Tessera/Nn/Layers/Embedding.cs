using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>A lookup table: integer indices (…) → vectors (…, dim); weights N(0, 1) as PyTorch initializes them.</summary>
public sealed class Embedding : Module
{
    public Embedding(int numEmbeddings, int embeddingDim, int seed = 0, DType dtype = DType.Float32)
    {
        if (numEmbeddings < 1 || embeddingDim < 1)
            throw new ArgumentOutOfRangeException(nameof(numEmbeddings), $"Embedding: sizes must be ≥ 1, got {numEmbeddings}×{embeddingDim}");
        Weight = AddParameter("weight", Tensor.RandomNormal(seed, dtype, 0, 1, numEmbeddings, embeddingDim));
    }

    public Parameter Weight { get; }

    public override Node Forward(Node indices, ForwardContext ctx) => Ops.Gather(ctx.Bind(Weight), indices, 0);
}
