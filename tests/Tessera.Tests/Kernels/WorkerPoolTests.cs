using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>The kernels' fork/join: every item runs exactly once, errors reach the caller, nesting and concurrent callers work.</summary>
public class WorkerPoolTests
{
    [Fact]
    public void Every_item_runs_once_across_many_loops()
    {
        for (int loop = 0; loop < 500; loop++)
        {
            int count = 1 + loop % 37;
            var hits = new int[count];
            WorkerPool.For(count, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void An_exception_in_an_item_reaches_the_caller_after_the_others_finish()
    {
        int ran = 0;
        var ex = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(20, i =>
        {
            Interlocked.Increment(ref ran);
            if (i == 7) throw new InvalidOperationException("item 7");
        }));
        Assert.Equal("item 7", ex.Message);
        Assert.Equal(20, ran);
        var after = new int[5];
        WorkerPool.For(5, i => after[i] = i + 1);   // the pool still works
        Assert.Equal([1, 2, 3, 4, 5], after);
    }

    [Fact]
    public void Nested_and_concurrent_loops_complete()
    {
        var total = new long[4];
        Parallel.For(0, 4, caller =>
        {
            for (int rep = 0; rep < 50; rep++)
                WorkerPool.For(8, i => WorkerPool.For(3, j => Interlocked.Add(ref total[caller], 1)));
        });
        Assert.All(total, t => Assert.Equal(50 * 8 * 3, t));
    }

    [Fact]
    public void Workers_that_went_to_sleep_are_woken()
    {
        int saved = WorkerPool.SpinMicroseconds;
        try
        {
            WorkerPool.SpinMicroseconds = 0;
            int parallelLoops = 0;
            for (int loop = 0; loop < 20; loop++)
            {
                Thread.Sleep(2);   // workers are asleep now
                var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
                var hits = new int[64];
                WorkerPool.For(64, i => { Interlocked.Increment(ref hits[i]); threads[Environment.CurrentManagedThreadId] = true; Thread.SpinWait(20000); });
                Assert.All(hits, h => Assert.Equal(1, h));
                if (threads.Count > 1) parallelLoops++;
            }
            // Each loop is milliseconds of work: a woken worker joins it unless the machine starves it every time.
            if (Environment.ProcessorCount > 1) Assert.True(parallelLoops > 0, "no loop ran on more than one thread");
        }
        finally { WorkerPool.SpinMicroseconds = saved; }
    }
}
