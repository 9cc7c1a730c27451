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
        // Warm: JIT, ONNX Runtime's environment and arenas. The working set still rises for the first few hundred
        // cycles when this test runs first in the process (measured: 136, 138, 139, 139, 139, 139 MiB after each 500
        // cycles), then stays flat; with only 100 warm cycles the test failed at +6 % when it ran first.
        await Cycles(500);
        long before = Memory();
        await Cycles(1000);
        long after = Memory();
        Assert.Equal(1500, s.Cache.LoadCount);
        Assert.True(after <= before * 1.05, $"working set grew from {before >> 20} MiB to {after >> 20} MiB over 1000 cycles");
    }

    [Fact]
    public async Task Thousand_load_unload_cycles_on_the_native_engine_grow_process_memory_by_at_most_five_percent()
    {
        // The same bound for the default backend (Tessera's own ONNX engine), on an opset-13 copy of simple.
        await using var s = await TestServer.StartAsync(o => o.WatchRepository = false, repo => NativeModels.WriteAddSub(repo, "native"));
        await s.Cache.LoadAsync("native", CancellationToken.None);
        Assert.Equal("tessera", s.Cache.Index().Single(r => r.Name == "native").Engine);
        s.Cache.Unload("native");
        async Task Cycles(int n)
        {
            for (int i = 0; i < n; i++)
            {
                await s.Cache.LoadAsync("native", CancellationToken.None);
                s.Cache.Unload("native");
            }
        }
        await Cycles(500); // warm, as above
        long before = WorkingSet();
        await Cycles(1000);
        long after = WorkingSet();
        Assert.Equal(1501, s.Cache.LoadCount);
        Assert.True(after <= before * 1.05, $"working set grew from {before >> 20} MiB to {after >> 20} MiB over 1000 cycles");
    }

    internal static long WorkingSet()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }
}
