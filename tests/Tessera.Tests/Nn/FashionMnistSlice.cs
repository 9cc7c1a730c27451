using Tessera.Data;

namespace Tessera.Tests.Nn;

/// <summary>The committed 2 000/500-image slice of Fashion-MNIST (tools/data/make_fashion_mnist_slice.py).</summary>
internal static class FashionMnistSlice
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures", "fashion-mnist-slice");

    private static readonly Lazy<(InMemoryDataset Train, InMemoryDataset Test)> s_data = new(() => IdxReader.ReadMnistDirectory(Directory));

    public static InMemoryDataset Train => s_data.Value.Train;
    public static InMemoryDataset Test => s_data.Value.Test;
}
