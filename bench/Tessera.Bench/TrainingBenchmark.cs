using System.Diagnostics;
using System.Text.Json;
using Tessera.Data;
using Tessera.Nn;

namespace Tessera.Bench;

/// <summary>
/// Epoch time of the Fashion-MNIST networks (MLP 784-256-128-10, CNN conv32-pool-conv64-pool-fc128-fc10),
/// Adam, same batch sizes as the PyTorch peer (bench/train_pytorch.py). One warm-up epoch on a slice first so the
/// JIT has tiered up; then timed epochs on the full training set.
/// </summary>
internal static class TrainingBenchmark
{
    public static int Run(string[] args)
    {
        string model = args.Length > 1 ? args[1] : "mlp";
        int batch = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 64;
        int epochs = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
        string dir = args.Length > 4 ? args[4] : "/usr/share/datasets/fashion-mnist";
        var (train, test) = IdxReader.ReadMnistDirectory(dir);
        NetworkConfig net = model == "cnn"
            ? new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(32), new ConvLayerConfig(64)], [128], 10)
            : new ModelConfig(784, [256, 128], 10, "relu");
        train = train.WithSampleShape(net.SampleShape);
        test = test.WithSampleShape(net.SampleShape);
        using (var warm = new Trainer(new TrainingConfig(net, batchSize: batch, epochs: 1)))
            warm.Fit(train.Take(batch * 40));
        using var trainer = new Trainer(new TrainingConfig(net, batchSize: batch, seed: 1, epochs: epochs));
        var sw = Stopwatch.StartNew();
        trainer.Fit(train);
        double seconds = sw.Elapsed.TotalSeconds / epochs;
        var (_, acc) = trainer.Evaluate(test);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            impl = "tessera",
            model,
            batch,
            epochs,
            epoch_seconds = Math.Round(seconds, 3),
            samples_per_second = Math.Round(train.Count / seconds, 1),
            peak_rss_mb = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1e6, 1),
            test_accuracy = Math.Round(acc, 4),
        }));
        return 0;
    }
}
