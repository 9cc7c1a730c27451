using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The kernels' persistent fork/join pool: every index runs exactly once whatever the sizes, loops back to back and
/// after the workers went to sleep, nested and concurrent loops complete (run serially when the pool is taken),
/// and an exception in any item reaches the caller and leaves the pool usable.
/// </summary>
public class KernelThreadsTests
{
    private static void AssertEachOnce(int count, int threads)
    {
        var hits = new int[count];
        KernelThreads.For(count, threads, i => Interlocked.Increment(ref hits[i]));
        for (int i = 0; i < count; i++) Assert.True(hits[i] == 1, $"count {count}, threads {threads}: index {i} ran {hits[i]} times");
    }

    [Fact]
    public void Every_index_runs_exactly_once()
    {
        foreach (int threads in new[] { 1, 2, 3, 8 })
            foreach (int count in new[] { 0, 1, 2, 3, 7, 16, 17, 100, 1000, 12345 })
                AssertEachOnce(count, threads);
    }

    [Fact]
    public void Many_loops_back_to_back_and_after_sleeping()
    {
        for (int r = 0; r < 2000; r++) AssertEachOnce(1 + r % 37, 2);
        var (saved, savedCaller) = (KernelThreads.SpinTime, KernelThreads.CallerSpinTime);
        try
        {
            // Workers block at once (each loop has to wake them) and the caller blocks waiting for them.
            KernelThreads.SpinTime = TimeSpan.Zero;
            KernelThreads.CallerSpinTime = TimeSpan.Zero;
            for (int r = 0; r < 200; r++)
            {
                AssertEachOnce(64, 3);
                if (r % 50 == 0) Thread.Sleep(5);
            }
            var hits = new int[16];
            for (int r = 0; r < 20; r++)
                KernelThreads.For(16, 2, i => { Thread.Sleep(i % 3); Interlocked.Increment(ref hits[i]); });
            Assert.All(hits, h => Assert.Equal(20, h));
        }
        finally { (KernelThreads.SpinTime, KernelThreads.CallerSpinTime) = (saved, savedCaller); }
    }

    [Fact]
    public void Items_run_on_more_than_one_thread_when_asked()
    {
        if (Environment.ProcessorCount < 2) return;
        // Other test classes run in parallel and use the pool too (GEMM, convolutions); a loop that finds it busy
        // runs on its caller alone, by design. So try a few times: one loop must get the pool and a worker.
        int most = 0;
        for (int attempt = 0; attempt < 100 && most < 2; attempt++)
        {
            var threadIds = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
            // Items that take a while, so the caller cannot finish them all before a worker joins.
            KernelThreads.For(64, 2, _ => { threadIds[Environment.CurrentManagedThreadId] = true; Thread.Sleep(1); });
            most = Math.Max(most, threadIds.Count);
        }
        Assert.True(most >= 2, $"every loop ran on {most} thread(s)");
    }

    [Fact]
    public void Nested_loops_complete()
    {
        var hits = new int[20 * 30];
        KernelThreads.For(20, 2, i => KernelThreads.For(30, 2, j => Interlocked.Increment(ref hits[i * 30 + j])));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Concurrent_callers_all_complete()
    {
        var totals = new long[6];
        Parallel.For(0, totals.Length, new ParallelOptions { MaxDegreeOfParallelism = totals.Length }, t =>
        {
            for (int r = 0; r < 200; r++)
                KernelThreads.For(50, 2, i => Interlocked.Add(ref totals[t], i));
        });
        Assert.All(totals, s => Assert.Equal(200L * (49 * 50 / 2), s));
    }

    [Fact]
    public void An_exception_reaches_the_caller_and_the_pool_still_works()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            KernelThreads.For(100, 2, i => { if (i == 73) throw new InvalidOperationException("item 73"); }));
        Assert.Equal("item 73", e.Message);
        AssertEachOnce(500, 2);
    }
}
