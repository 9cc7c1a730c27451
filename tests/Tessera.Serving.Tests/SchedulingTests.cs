using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Serving.Backends;

namespace Tessera.Serving.Tests;

/// <summary>Dynamic batching, the bounded queue (429), timeouts (504, dropped work), cancellation and draining on shutdown.</summary>
public sealed class SchedulingTests
{
    private static string Request(int value, long? timeoutUs = null) =>
        "{" + (timeoutUs is long t ? $"\"parameters\":{{\"timeout\":{t}}}," : "") +
        $$"""
        "inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{string.Join(",", Enumerable.Repeat(value, 16))}}]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[{{string.Join(",", Enumerable.Range(0, 16))}}]}]}
        """;

    private const string Batching = """

        dynamic_batching { max_queue_delay_microseconds: 100000 preferred_batch_size: [ 8 ] }
        instance_group [ { count: 1 kind: KIND_CPU } ]
        """;

    [Fact]
    public async Task Concurrent_requests_are_batched_and_each_gets_its_own_rows()
    {
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.Zero, RunDelay = TimeSpan.FromMilliseconds(50) };
        await using var s = await TestServer.StartAsync(
            prepare: repo => TestServer.CloneModel(repo, "simple", "batched", c => c + Batching + SlowBackendFactory.ConfigParameter),
            services: sv => sv.AddSingleton<IModelBackendFactory>(slow));
        await s.PostJsonAsync("v2/models/batched/infer", Request(0)); // load it
        int runsBefore = slow.Runs;
        var results = await Task.WhenAll(Enumerable.Range(1, 16).Select(i => s.PostJsonAsync("v2/models/batched/infer", Request(i))));
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(HttpStatusCode.OK, results[i].Status);
            var out0 = results[i].Body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetInt32());
            Assert.Equal(Enumerable.Range(0, 16).Select(k => k + i + 1), out0);
        }
        Assert.True(slow.Runs - runsBefore < 16, $"16 requests ran as {slow.Runs - runsBefore} batches");
        var metrics = await s.Http.GetStringAsync("metrics");
        Assert.Contains("tessera_inference_batch_size_bucket{model=\"batched\"", metrics);
    }

    [Fact]
    public async Task Waiting_for_a_batch_to_fill_counts_as_queue_time_not_overhead()
    {
        // One request alone on a batched model waits max_queue_delay (100 ms) for company: /metrics must show that
        // wait as queue time, and the server's overhead must stay small.
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.Zero, RunDelay = TimeSpan.Zero };
        await using var s = await TestServer.StartAsync(
            prepare: repo => TestServer.CloneModel(repo, "simple", "batched", c => c + Batching + SlowBackendFactory.ConfigParameter),
            services: sv => sv.AddSingleton<IModelBackendFactory>(slow));
        await s.PostJsonAsync("v2/models/batched/infer", Request(0)); // load, JIT
        async Task<(double Queue, double Overhead)> Sums()
        {
            var lines = (await s.Http.GetStringAsync("metrics")).Split('\n');
            double Sum(string prefix) => double.Parse(lines.Single(l => l.StartsWith(prefix)).Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);
            return (Sum("tessera_inference_queue_seconds_sum{model=\"batched\"}"), Sum("tessera_inference_overhead_seconds_sum{model=\"batched\",protocol=\"http\"}"));
        }
        var before = await Sums();
        Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync("v2/models/batched/infer", Request(1))).Status);
        var after = await Sums();
        Assert.True(after.Queue - before.Queue >= 0.09, $"queue {after.Queue - before.Queue} s");
        Assert.True(after.Overhead - before.Overhead < 0.05, $"overhead {after.Overhead - before.Overhead} s");
    }

    [Fact]
    public async Task Full_queue_answers_429_with_retry_after()
    {
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.Zero, RunDelay = TimeSpan.FromMilliseconds(1000) };
        await using var s = await TestServer.StartAsync(
            o => o.MaxQueueSize = 2,
            repo => TestServer.CloneModel(repo, "simple", "busy", c => c + SlowBackendFactory.ConfigParameter),
            sv => sv.AddSingleton<IModelBackendFactory>(slow));
        slow.RunDelay = TimeSpan.Zero;
        await s.PostJsonAsync("v2/models/busy/infer", Request(0));
        slow.RunDelay = TimeSpan.FromMilliseconds(1000);
        int runsBefore = slow.Runs;
        var first = s.PostJsonAsync("v2/models/busy/infer", Request(100));
        for (int i = 0; i < 300 && Volatile.Read(ref slow.Runs) == runsBefore; i++) await Task.Delay(10);
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            using var r = await s.Http.PostAsync("v2/models/busy/infer", new StringContent(Request(i), System.Text.Encoding.UTF8, "application/json"));
            return (r.StatusCode, r.Headers.RetryAfter?.Delta, await r.Content.ReadAsStringAsync());
        }));
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => { Assert.NotNull(r.Delta); Assert.Contains("queue is full", r.Item3); });
        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Timed_out_and_cancelled_requests_are_dropped_from_the_queue()
    {
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.Zero, RunDelay = TimeSpan.FromMilliseconds(1500) };
        await using var s = await TestServer.StartAsync(
            prepare: repo => TestServer.CloneModel(repo, "simple", "queued", c => c + Batching.Replace("100000", "1000") + SlowBackendFactory.ConfigParameter),
            services: sv => sv.AddSingleton<IModelBackendFactory>(slow));
        await s.PostJsonAsync("v2/models/queued/infer", Request(0));
        int rowsBefore = slow.Rows, runsBefore = slow.Runs;
        var busy = s.PostJsonAsync("v2/models/queued/infer", Request(1));
        // Wait until the only instance is busy with it, so the next requests must queue.
        for (int i = 0; i < 200 && Volatile.Read(ref slow.Runs) == runsBefore; i++) await Task.Delay(10);
        var (status, body) = await s.PostJsonAsync("v2/models/queued/infer", Request(2, timeoutUs: 50_000));
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Contains("timed out", body.GetProperty("error").GetString());
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                s.Http.PostAsync("v2/models/queued/infer", new StringContent(Request(3), System.Text.Encoding.UTF8, "application/json"), cts.Token));
        Assert.Equal(HttpStatusCode.OK, (await busy).Status);
        await Task.Delay(300);
        Assert.Equal(1, slow.Rows - rowsBefore); // only the request that was already running
        Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync("v2/models/queued/infer", Request(4))).Status);
    }

    [Fact]
    public async Task Shutdown_drains_in_flight_requests()
    {
        var slow = new SlowBackendFactory { LoadDelay = TimeSpan.Zero, RunDelay = TimeSpan.FromMilliseconds(500) };
        var s = await TestServer.StartAsync(
            prepare: repo => TestServer.CloneModel(repo, "simple", "draining", c => c + SlowBackendFactory.ConfigParameter),
            services: sv => sv.AddSingleton<IModelBackendFactory>(slow));
        try
        {
            await s.PostJsonAsync("v2/models/draining/infer", Request(0));
            int runsBefore = slow.Runs;
            var inFlight = s.PostJsonAsync("v2/models/draining/infer", Request(5));
            for (int i = 0; i < 200 && Volatile.Read(ref slow.Runs) == runsBefore; i++) await Task.Delay(10);
            var stop = s.App.StopAsync();
            var (status, body) = await inFlight;
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(5, body.GetProperty("outputs")[0].GetProperty("data")[0].GetInt32());
            await stop;
        }
        finally { await s.DisposeAsync(); }
    }
}
