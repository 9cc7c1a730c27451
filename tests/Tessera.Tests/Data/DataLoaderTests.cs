using Tessera.Data;

namespace Tessera.Tests.Data;

public class DataLoaderTests
{
    private sealed class Counting(int count, Func<int, int>? failAt = null) : IDataset
    {
        public int Count => count;
        public int[] SampleShape => [2];
        public int Reads;
        public long Read(int index, Span<float> features)
        {
            if (failAt?.Invoke(index) == 1) throw new IOException($"disk error reading sample {index}");
            Interlocked.Increment(ref Reads);
            features[0] = index; features[1] = -index;
            return index;
        }
    }

    [Fact]
    public void An_epoch_visits_every_sample_once_in_a_seeded_order_with_a_partial_last_batch()
    {
        var loader = new DataLoader(new Counting(103), batchSize: 10, workers: 3);
        var seen = new List<long>();
        int batches = 0;
        foreach (var b in loader.Epoch(seed: 7))
        {
            using (b)
            {
                Assert.Equal(batches++, b.Index);
                Assert.Equal(b.Size == 3 ? [3, 2] : new[] { 10, 2 }, b.Features.ShapeArray());
                var f = b.Features.ToArray<float>();
                var l = b.Labels.ToArray<long>();
                for (int i = 0; i < l.Length; i++) Assert.Equal(l[i], f[2 * i]);
                seen.AddRange(l);
            }
        }
        Assert.Equal(11, batches);
        Assert.Equal(Enumerable.Range(0, 103).Select(i => (long)i), seen.Order());
        Assert.NotEqual(Enumerable.Range(0, 103).Select(i => (long)i), seen);
        Assert.Equal(loader.Order(7), new DataLoader(new Counting(103), 10).Order(7));
        Assert.NotEqual(loader.Order(7), loader.Order(8));
    }

    [Fact]
    public void Drop_last_skips_the_partial_batch()
    {
        var loader = new DataLoader(new Counting(25), batchSize: 10, dropLast: true);
        Assert.Equal(2, loader.BatchesPerEpoch);
        Assert.Equal(2, loader.Epoch(1).Count(b => { b.Dispose(); return true; }));
    }

    [Fact]
    public void A_failing_read_surfaces_with_its_message()
    {
        var loader = new DataLoader(new Counting(50, i => i == 31 ? 1 : 0), batchSize: 5, shuffle: false);
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var b in loader.Epoch(0)) b.Dispose(); });
        Assert.Contains("disk error reading sample 31", e.Message);
    }

    [Fact]
    public void Workers_prefetch_ahead_of_a_slow_consumer_but_stay_bounded()
    {
        var data = new Counting(1000);
        var loader = new DataLoader(data, batchSize: 10, workers: 2, prefetch: 3);
        using var e = loader.Epoch(0).GetEnumerator();
        Assert.True(e.MoveNext());
        e.Current.Dispose();
        // While the consumer holds still, the workers fill their bounded channels and stop.
        SpinWait.SpinUntil(() => Volatile.Read(ref data.Reads) >= 70, TimeSpan.FromSeconds(5));
        Thread.Sleep(100);
        int reads = Volatile.Read(ref data.Reads);
        Assert.InRange(reads, 70, 10 * (1 + 2 * (3 + 1)));
    }

    [Fact]
    public void Idx_reader_reports_truncated_and_foreign_files()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-idx-").FullName;
        try
        {
            var bad = Path.Combine(dir, "bad");
            File.WriteAllBytes(bad, [0x50, 0x4B, 3, 4, 0, 0]);
            Assert.Contains("not an IDX file", Assert.Throws<InvalidDataException>(() => IdxReader.Read(bad)).Message);
            var truncated = Path.Combine(dir, "truncated");
            File.WriteAllBytes(truncated, [0, 0, 8, 1, 0, 0, 0, 10, 1, 2]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => IdxReader.Read(truncated)).Message);
            Assert.Throws<FileNotFoundException>(() => IdxReader.ReadMnistDirectory(dir));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
