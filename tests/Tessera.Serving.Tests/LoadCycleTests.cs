using System.Diagnostics;

namespace Tessera.Serving.Tests;

/// <summary>Runs alone, after the parallel tests, so other tests' allocations don't blur process-memory readings.</summary>
[CollectionDefinition("serial", DisableParallelization = true)]
public sealed class SerialCollection;

/// <summary>Loading and unloading a model over and over must not leak (the bound: 1 000 cycles, ≤ 5 % growth).</summary>
[Collection("serial")]
public sealed class LoadCycleTests
{
    [Fact]
    public async Task Thousand_load_unload_cycles_grow_process_memory_by_at_most_five_percent()
    {
        await using var s = await TestServer.StartAsync(o => o.WatchRepository = false);
        async Task Cycles(int n)
        {
            for (int i = 0; i < n; i++)
            {
                await s.Cache.LoadAsync("simple", CancellationToken.None);
                s.Cache.Unload("simple");
            }
        }
        long Memory()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var p = Process.GetCurrentProcess();
            return p.WorkingSet64;
        }
        await Cycles(100); // warm: JIT, ONNX Runtime's environment and arenas
        long before = Memory();
        await Cycles(1000);
        long after = Memory();
        Assert.Equal(1100, s.Cache.LoadCount);
        Assert.True(after <= before * 1.05, $"working set grew from {before >> 20} MiB to {after >> 20} MiB over 1000 cycles");
    }
}
