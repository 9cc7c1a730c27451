using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Serving.Backends;
using Tessera.Serving.Hosting;
using Tessera.Serving.Http;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Serving.Scheduling;

namespace Tessera.Serving.Dashboard;

/// <summary>The dashboard page at <c>/</c>, the JSON it polls, and Prometheus <c>/metrics</c>.</summary>
public static class DashboardEndpoints
{
    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using var s = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Tessera.Serving.Dashboard.index.html")
            ?? throw new InvalidOperationException("dashboard page missing from the assembly");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    });

    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app)
    {
        var metrics = app.ServiceProvider.GetRequiredService<ServingMetrics>();
        var cache = app.ServiceProvider.GetRequiredService<ModelCache>();
        var repository = app.ServiceProvider.GetRequiredService<ModelRepository>();
        var options = app.ServiceProvider.GetRequiredService<ServingOptions>();
        var started = DateTime.UtcNow;

        app.MapGet("/", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/html; charset=utf-8";
            await ctx.Response.Body.WriteAsync(Page.Value);
        });

        app.MapGet("/metrics", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.WriteAsync(ctx.Response.Body, ctx.RequestAborted);
        });

        app.MapGet("/api/dashboard", (HttpContext ctx) => RestEndpoints.Json(ctx, w =>
        {
            using var process = Process.GetCurrentProcess();
            w.WriteStartObject();
            w.WriteString("server", RestEndpoints.ServerName);
            w.WriteString("version", RestEndpoints.ServerVersion);
            w.WriteString("repository", repository.Root);
            w.WriteNumber("uptime_seconds", (DateTime.UtcNow - started).TotalSeconds);
            w.WriteNumber("memory_budget_bytes", options.MemoryBudgetBytes);
            w.WriteNumber("models_memory_bytes", cache.LoadedBytes);
            w.WriteNumber("working_set_bytes", process.WorkingSet64);
            w.WriteNumber("loads", cache.LoadCount);
            w.WriteStartArray("models");
            foreach (var row in cache.Index())
            {
                w.WriteStartObject();
                w.WriteString("name", row.Name);
                w.WriteString("version", row.Version);
                w.WriteString("state", row.State);
                w.WriteString("reason", row.Reason);
                w.WriteString("engine", row.Engine ?? "");
                w.WriteNumber("memory_bytes", row.MemoryBytes);
                w.WriteBoolean("pinned", row.Pinned);
                w.WriteBoolean("dynamic_batching", row.Batching);
                w.WriteNumber("in_flight", row.InFlight);
                var (ok, failed, p50, p99, overhead) = metrics.Stats(row.Name).Snapshot();
                w.WriteNumber("success", ok);
                w.WriteNumber("failure", failed);
                w.WriteNumber("p50_ms", Math.Round(p50, 3));
                w.WriteNumber("p99_ms", Math.Round(p99, 3));
                w.WriteNumber("overhead_us", Math.Round(overhead, 1));
                w.WriteStartArray("inputs");
                foreach (var t in Signature(row))
                {
                    w.WriteStartObject();
                    w.WriteString("name", t.Name);
                    w.WriteString("datatype", t.DataType.Name());
                    w.WriteStartArray("shape");
                    foreach (var d in t.Shape) w.WriteNumberValue(d);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }));
        return app;

        // The config's inputs, else (a config that declares none, e.g. a trees model) the loaded model's own.
        IEnumerable<TensorSpec> Signature(ModelIndexEntry row)
        {
            var config = repository.Find(row.Name)?.Config;
            if (config is { Inputs.Count: > 0 })
                return config.Inputs.Select(t => new TensorSpec(t.Name, t.DataType, config.MaxBatchSize > 0 ? [-1, .. t.Dims] : t.Dims));
            return long.TryParse(row.Version, CultureInfo.InvariantCulture, out long v) && cache.Peek(row.Name, v) is { } loaded ? loaded.Inputs : [];
        }
    }
}
