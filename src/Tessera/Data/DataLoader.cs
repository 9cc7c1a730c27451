using System.Threading.Channels;

namespace Tessera.Data;

/// <summary>
/// Splits a dataset into mini-batches, shuffled by a seed per epoch, assembled ahead of the consumer by background
/// workers. Each worker owns every W-th batch and a bounded channel, and the consumer reads the channels round-robin,
/// so batches arrive in order, at most <see cref="Prefetch"/> per worker are buffered, and reading overlaps compute.
/// With zero workers batches are read inline, on the consumer's thread (no overlap; for comparison and debugging).
/// </summary>
public sealed class DataLoader(IDataset dataset, int batchSize, bool shuffle = true, bool dropLast = false, int workers = 2, int prefetch = 2)
{
    public IDataset Dataset { get; } = dataset;
    public int BatchSize { get; } = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be ≥ 1, got {batchSize}");
    public bool Shuffle { get; } = shuffle;
    public bool DropLast { get; } = dropLast;
    public int Workers { get; } = Math.Max(0, workers);
    public int Prefetch { get; } = Math.Max(1, prefetch);

    public int BatchesPerEpoch => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The sample order of an epoch: a Fisher–Yates shuffle seeded by <paramref name="seed"/>, or 0..n-1.</summary>
    public int[] Order(int seed)
    {
        var order = new int[Dataset.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (Shuffle)
        {
            var rng = new Random(seed);
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return order;
    }

    /// <summary>The batches of one epoch. The consumer disposes each batch; abandoning the enumeration stops the workers.</summary>
    public IEnumerable<Batch> Epoch(int seed, CancellationToken cancel = default)
    {
        var order = Order(seed);
        int batches = BatchesPerEpoch;
        if (Workers == 0)
        {
            for (int b = 0; b < batches; b++)
            {
                cancel.ThrowIfCancellationRequested();
                yield return Assemble(order, b);
            }
            yield break;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var channels = new Channel<Batch>[Workers];
        var tasks = new Task[Workers];
        for (int w = 0; w < Workers; w++)
        {
            var channel = channels[w] = Channel.CreateBounded<Batch>(new BoundedChannelOptions(Prefetch) { SingleReader = true, SingleWriter = true });
            int worker = w;
            tasks[w] = Task.Run(async () =>
            {
                try
                {
                    for (int b = worker; b < batches; b += Workers)
                    {
                        var batch = Assemble(order, b);
                        try { await channel.Writer.WriteAsync(batch, stop.Token).ConfigureAwait(false); }
                        catch { batch.Dispose(); throw; }
                    }
                    channel.Writer.Complete();
                }
                catch (Exception e)
                {
                    channel.Writer.Complete(e);
                }
            }, stop.Token);
        }
        try
        {
            for (int b = 0; b < batches; b++)
            {
                var reader = channels[b % Workers].Reader;
                Batch batch;
                try
                {
                    batch = reader.ReadAsync(stop.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw new InvalidOperationException($"DataLoader: reading batch {b} failed: {e.InnerException.Message}", e.InnerException);
                }
                yield return batch;
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var c in channels)
                while (c.Reader.TryRead(out var left)) left.Dispose();
            try { Task.WaitAll(tasks); } catch (AggregateException) { /* cancelled workers */ }
            foreach (var c in channels)
                while (c.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    private Batch Assemble(int[] order, int b)
    {
        int start = b * BatchSize;
        int size = Math.Min(BatchSize, order.Length - start);
        var sampleShape = Dataset.SampleShape;
        int sampleSize = ShapeMath.Count(sampleShape);
        var features = Tensor.Empty(DType.Float32, [size, .. sampleShape]);
        var labels = Tensor.Empty(DType.Int64, size);
        var fs = features.AsSpan<float>();
        var ls = labels.AsSpan<long>();
        for (int i = 0; i < size; i++) ls[i] = Dataset.Read(order[start + i], fs.Slice(i * sampleSize, sampleSize));
        return new Batch(features, labels, b);
    }
}
