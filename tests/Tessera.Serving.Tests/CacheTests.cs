using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Serving.Backends;

namespace Tessera.Serving.Tests;

/// <summary>The memory-budget cache: load on first request, single flight, LRU eviction, pinning.</summary>
public sealed class CacheTests
{
    private static readonly string Ones = string.Join(",", Enumerable.Repeat(1, 16));

    private static string Request(int value) =>
        $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{string.Join(",", Enumerable.Repeat(value, 16))}}]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[{{Ones}}]}]}""";

    // Every clone of simple has the same estimate: twice the 331-byte file plus a megabyte.
    private static readonly long PerModel = 331 * 2 + (1 << 20);

    [Fact]
    public async Task Budget_for_two_of_five_models_serves_a_random_mix_with_no_errors()
    {
        await using var s = await TestServer.StartAsync(
            o => o.MemoryBudgetBytes = PerModel * 5 / 2,
            repo => { for (int i = 0; i < 5; i++) TestServer.CloneModel(repo, "simple", $"m{i}"); });
        var random = new Random(42);
        var picks = Enumerable.Range(0, 300).Select(_ => random.Next(5)).ToArray();
        int errors = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, picks.Length), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var (status, body) = await s.PostJsonAsync($"v2/models/m{picks[i]}/infer", Request(i));
            if (status != HttpStatusCode.OK || body.GetProperty("outputs")[0].GetProperty("data")[0].GetInt32() != i + 1) Interlocked.Increment(ref errors);
        });
        Assert.Equal(0, errors);
        var index = s.Cache.Index().Where(r => r.Name.StartsWith('m')).ToList();
        Assert.True(index.Count(r => r.State == "READY") <= 2, string.Join("; ", index.Select(r => $"{r.Name} {r.State}")));
        Assert.Contains(index, r => r.Reason.StartsWith("evicted", StringComparison.Ordinal));
        Assert.True(s.Cache.LoadedBytes <= s.Options.MemoryBudgetBytes);
        var metrics = await s.Http.GetStringAsync("metrics");
        Assert.Contains("tessera_cache_evictions_total{model=", metrics);
        Assert.Contains("tessera_cache_misses_total{model=", metrics);
    }

    [Fact]
    public async Task Concurrent_cold_requests_cause_exactly_one_load()
    {
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.FromMilliseconds(500), RunDelay = TimeSpan.Zero };
        await using var s = await TestServer.StartAsync(
            prepare: repo => TestServer.CloneModel(repo, "simple", "cold", c => c + SlowBackendFactory.ConfigParameter),
            services: sv => sv.AddSingleton<IModelBackendFactory>(slow));
        var tasks = Enumerable.Range(0, 16).Select(i => s.PostJsonAsync("v2/models/cold/infer", Request(i))).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.Equal(1, slow.Loads);
        Assert.Equal(1, s.Cache.LoadCount);
    }

    [Fact]
    public async Task Pinned_models_load_at_startup_and_are_never_evicted()
    {
        await using var s = await TestServer.StartAsync(
            o => { o.MemoryBudgetBytes = PerModel; o.PinnedModels = ["simple"]; },
            repo => { for (int i = 0; i < 3; i++) TestServer.CloneModel(repo, "simple", $"m{i}"); });
        for (int wait = 0; wait < 50 && s.Cache.Index().First(r => r.Name == "simple").State != "READY"; wait++) await Task.Delay(100);
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < 3; i++)
                Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync($"v2/models/m{i}/infer", Request(i))).Status);
        var simple = s.Cache.Index().First(r => r.Name == "simple");
        Assert.Equal("READY", simple.State);
        Assert.True(simple.Pinned);
    }
}
