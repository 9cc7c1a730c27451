namespace Tessera.Data;

/// <summary>A mini-batch: features (B, …sample shape) float32 and labels (B,) int64. Dispose returns the buffers to the pool.</summary>
public sealed class Batch(Tensor features, Tensor labels, int index) : IDisposable
{
    public Tensor Features { get; } = features;
    public Tensor Labels { get; } = labels;
    /// <summary>Position of this batch within its epoch.</summary>
    public int Index { get; } = index;
    public int Size => Labels.Length;

    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}
