namespace Tessera.Data;

/// <summary>Labelled samples with float features of a fixed shape (classification: labels are class indices).</summary>
public interface IDataset
{
    int Count { get; }
    /// <summary>Shape of one sample's features, e.g. [1, 28, 28].</summary>
    int[] SampleShape { get; }
    /// <summary>Writes sample <paramref name="index"/>'s features into <paramref name="features"/> and returns its label.</summary>
    long Read(int index, Span<float> features);
}

/// <summary>A dataset held in memory as one flat float array plus labels.</summary>
public sealed class InMemoryDataset : IDataset
{
    private readonly float[] _features;
    private readonly long[] _labels;
    private readonly int _sampleSize;

    public InMemoryDataset(float[] features, long[] labels, int[] sampleShape)
    {
        _sampleSize = ShapeMath.Count(sampleShape);
        if (features.Length != (long)labels.Length * _sampleSize)
            throw new ArgumentException($"InMemoryDataset: {features.Length} feature values do not make {labels.Length} samples of shape {ShapeMath.Format(sampleShape)}.");
        _features = features; _labels = labels; SampleShape = sampleShape;
    }

    public int Count => _labels.Length;
    public int[] SampleShape { get; }
    public ReadOnlySpan<long> Labels => _labels;

    public long Read(int index, Span<float> features)
    {
        _features.AsSpan(index * _sampleSize, _sampleSize).CopyTo(features);
        return _labels[index];
    }

    /// <summary>The first <paramref name="count"/> samples (a copy).</summary>
    public InMemoryDataset Take(int count)
    {
        count = Math.Min(count, Count);
        return new InMemoryDataset(_features[..(count * _sampleSize)], _labels[..count], SampleShape);
    }

    /// <summary>The same samples seen with another sample shape of equal size (e.g. 784 ↔ 1×28×28).</summary>
    public InMemoryDataset WithSampleShape(int[] shape)
    {
        if (ShapeMath.Count(shape) != _sampleSize)
            throw new ArgumentException($"Sample shape {ShapeMath.Format(shape)} does not hold {_sampleSize} features per sample.");
        return new InMemoryDataset(_features, _labels, shape);
    }
}
