using Tessera.Data;
using Tessera.Nn;
using Tessera.Onnx;
using Tessera.OnnxRuntime;

namespace Tessera.Onnx.Tests;

/// <summary>Networks trained by Tessera, exported to ONNX, give the same logits and predictions in ONNX Runtime.</summary>
public class OnnxExportTests
{
    private static (InMemoryDataset Train, InMemoryDataset Test) Data() =>
        IdxReader.ReadMnistDirectory(Path.Combine(AppContext.BaseDirectory, "fixtures", "fashion-mnist-slice"));

    public static TheoryData<string> Networks => ["mlp", "cnn"];

    [Theory]
    [MemberData(nameof(Networks))]
    public void Trained_fashion_mnist_network_exports_to_onnx_with_the_same_predictions_in_onnx_runtime(string kind)
    {
        var (train, test) = Data();
        NetworkConfig net = kind == "cnn"
            ? new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(8), new ConvLayerConfig(16)], [32], 10)
            : new ModelConfig(784, [64, 32], 10, "relu");
        if (kind != "cnn") { train = train.WithSampleShape([784]); test = test.WithSampleShape([784]); }
        using var trainer = new Trainer(new TrainingConfig(net, optimizer: "adam", learningRate: 1e-3, batchSize: 64, seed: 1, epochs: 1));
        trainer.Fit(train, test, progress: null);

        var path = Path.Combine(Path.GetTempPath(), $"tessera-export-{kind}-{Environment.ProcessId}.onnx");
        try
        {
            OnnxExporter.Export(trainer.Model, net.SampleShape, path);
            int size = ShapeMath.Count(test.SampleShape);
            var features = new float[200 * size];
            for (int i = 0; i < 200; i++) test.Read(i, features.AsSpan(i * size, size));
            var batch = Tensor.FromArray(features, [200, .. test.SampleShape]);
            var expected = trainer.Predict(batch).Clone();

            using var ort = OrtModel.Load(path, threads: 1);
            var fromOrt = ort.Run(new Dictionary<string, Tensor> { ["input"] = batch })["logits"];
            using var native = OnnxModel.Load(path);
            var fromNative = native.Run(new Dictionary<string, Tensor> { ["input"] = batch })["logits"];

            foreach (var actual in new[] { fromOrt, fromNative })
            {
                Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
                OnnxModelTests.AssertClose(expected.ToArray<float>(), actual.ToArray<float>(), 1e-4);
                Assert.Equal(ArgMax(expected), ArgMax(actual));
            }
        }
        finally { File.Delete(path); }
    }

    private static int[] ArgMax(Tensor logits)
    {
        var v = logits.ToArray<float>();
        int n = logits.Shape[0], c = logits.Shape[1];
        return [.. Enumerable.Range(0, n).Select(i => Enumerable.Range(0, c).MaxBy(j => v[i * c + j]))];
    }
}
