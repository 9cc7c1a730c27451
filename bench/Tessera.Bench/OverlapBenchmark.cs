using System.Diagnostics;
using System.Text.Json;
using Tessera.Data;
using Tessera.Nn;

namespace Tessera.Bench;

/// <summary>
/// Loading overlaps compute: a dataset that sleeps per sample (a slow disk or decoder) feeds an MLP. Measured: the
/// read time alone, the compute time alone (in-memory data), and an epoch with inline loading (workers = 0) and
/// with background prefetch. Overlap means the prefetched epoch takes about max(read, compute), not their sum.
/// </summary>
internal static class OverlapBenchmark
{
    private sealed class SlowDataset(InMemoryDataset inner, double microsPerSample) : IDataset
    {
        public int Count => inner.Count;
        public int[] SampleShape => inner.SampleShape;
        public long Read(int index, Span<float> features)
        {
            long until = Stopwatch.GetTimestamp() + (long)(microsPerSample * Stopwatch.Frequency / 1e6);
            while (Stopwatch.GetTimestamp() < until) Thread.Sleep(0);   // a blocking read, not CPU work
            return inner.Read(index, features);
        }
    }

    public static int Run(string[] args)
    {
        string dir = args.Length > 1 ? args[1] : "/usr/share/datasets/fashion-mnist";
        var (train, _) = IdxReader.ReadMnistDirectory(dir);
        var data = train.WithSampleShape([784]).Take(12_800);
        var cfg = new TrainingConfig(new ModelConfig(784, [256, 128], 10), batchSize: 64, epochs: 1);
        using (var warm = new Trainer(cfg)) warm.Fit(data.Take(2560));

        double Epoch(IDataset d, int workers)
        {
            using var t = new Trainer(cfg);
            var sw = Stopwatch.StartNew();
            t.Fit(d, workers: workers);
            return sw.Elapsed.TotalSeconds;
        }

        double compute = Epoch(data, 0);
        // Pick the per-sample delay so reading takes about as long as computing: the hardest case for overlap.
        double micros = compute / data.Count * 1e6;
        var slow = new SlowDataset(data, micros);
        var sw = Stopwatch.StartNew();
        foreach (var b in new DataLoader(slow, 64, workers: 0).Epoch(0)) b.Dispose();
        double read = sw.Elapsed.TotalSeconds;
        double inline = Epoch(slow, 0);
        double prefetch = Epoch(slow, 2);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            samples = data.Count,
            read_seconds = Math.Round(read, 3),
            compute_seconds = Math.Round(compute, 3),
            inline_epoch_seconds = Math.Round(inline, 3),
            prefetch_epoch_seconds = Math.Round(prefetch, 3),
            max_read_compute = Math.Round(Math.Max(read, compute), 3),
            sum_read_compute = Math.Round(read + compute, 3),
        }));
        return 0;
    }
}
