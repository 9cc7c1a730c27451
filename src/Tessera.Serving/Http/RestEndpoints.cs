using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Hosting;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Serving.Scheduling;

namespace Tessera.Serving.Http;

/// <summary>The Open Inference Protocol's REST endpoints, Triton's repository extension and the plain <c>/infer</c>.</summary>
public static class RestEndpoints
{
    public const string ServerName = "tessera";
    public static readonly string ServerVersion = typeof(RestEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    public static IEndpointRouteBuilder MapOpenInferenceProtocol(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<ServingOptions>();
        var service = app.ServiceProvider.GetRequiredService<InferenceService>();
        var metrics = app.ServiceProvider.GetRequiredService<ServingMetrics>();
        var repository = app.ServiceProvider.GetRequiredService<ModelRepository>();
        var logger = app.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Tessera.Serving.Rest");
        var cache = service.Cache;

        app.MapGet("/v2/health/live", (HttpContext ctx) => Json(ctx, w => { w.WriteStartObject(); w.WriteBoolean("live", true); w.WriteEndObject(); }));
        app.MapGet("/v2/health/ready", (HttpContext ctx) => Json(ctx, w => { w.WriteStartObject(); w.WriteBoolean("ready", true); w.WriteEndObject(); }));
        app.MapGet("/v2", (HttpContext ctx) => Json(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteString("name", ServerName);
            w.WriteString("version", ServerVersion);
            w.WriteStartArray("extensions");
            foreach (var e in Extensions(options)) w.WriteStringValue(e);
            w.WriteEndArray();
            w.WriteEndObject();
        }));

        Task Metadata(HttpContext ctx, string name, string? version) => Guard(ctx, logger, async () =>
        {
            var m = await service.MetadataAsync(name, version, ctx.RequestAborted);
            await Json(ctx, w => WriteMetadata(w, m));
        });
        app.MapGet("/v2/models/{name}", (HttpContext ctx, string name) => Metadata(ctx, name, null));
        app.MapGet("/v2/models/{name}/versions/{version}", (HttpContext ctx, string name, string version) => Metadata(ctx, name, version));

        Task Ready(HttpContext ctx, string name, string? version) => Guard(ctx, logger, async () =>
        {
            bool ready = cache.IsReady(name, version);
            ctx.Response.StatusCode = ready ? 200 : 400;
            await Json(ctx, w => { w.WriteStartObject(); w.WriteString("name", name); w.WriteBoolean("ready", ready); w.WriteEndObject(); });
        });
        app.MapGet("/v2/models/{name}/ready", (HttpContext ctx, string name) => Ready(ctx, name, null));
        app.MapGet("/v2/models/{name}/versions/{version}/ready", (HttpContext ctx, string name, string version) => Ready(ctx, name, version));

        Task Infer(HttpContext ctx, string name, string? version) => InferAsync(ctx, name, version, options, service, metrics, repository, logger);
        app.MapPost("/v2/models/{name}/infer", (HttpContext ctx, string name) => Infer(ctx, name, null));
        app.MapPost("/v2/models/{name}/versions/{version}/infer", (HttpContext ctx, string name, string version) => Infer(ctx, name, version));

        app.MapPost("/infer", (HttpContext ctx) => SimpleInfer.HandleAsync(ctx, options, service, metrics, repository, logger));

        app.MapPost("/v2/repository/index", (HttpContext ctx) => Guard(ctx, logger, async () =>
        {
            RequireRepositoryApi(options);
            bool readyOnly = false;
            var body = await HttpIo.ReadBodyAsync(ctx, 1 << 16);
            if (body.Length > 0)
            {
                try
                {
                    using var doc = JsonDocument.Parse(body);
                    readyOnly = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("ready", out var r) && r.ValueKind == JsonValueKind.True;
                }
                catch (JsonException e) { throw InferenceException.BadRequest($"malformed JSON in the request: {e.Message}"); }
            }
            var rows = cache.Index().Where(r => !readyOnly || r.State == "READY");
            await Json(ctx, w =>
            {
                w.WriteStartArray();
                foreach (var r in rows) WriteIndexRow(w, r);
                w.WriteEndArray();
            });
        }));
        app.MapPost("/v2/repository/models/{name}/load", (HttpContext ctx, string name) => Guard(ctx, logger, async () =>
        {
            RequireRepositoryApi(options);
            await cache.LoadAsync(name, ctx.RequestAborted);
            await Json(ctx, w => { w.WriteStartObject(); w.WriteEndObject(); });
        }));
        app.MapPost("/v2/repository/models/{name}/unload", (HttpContext ctx, string name) => Guard(ctx, logger, async () =>
        {
            RequireRepositoryApi(options);
            cache.Unload(name);
            await Json(ctx, w => { w.WriteStartObject(); w.WriteEndObject(); });
        }));
        return app;
    }

    public static IEnumerable<string> Extensions(ServingOptions options)
    {
        yield return "binary_tensor_data";
        if (options.EnableRepositoryApi) yield return "model_repository";
    }

    private static void RequireRepositoryApi(ServingOptions options)
    {
        if (!options.EnableRepositoryApi)
            throw InferenceException.BadRequest("the model repository extension is disabled; start the server with --repository-api to use it");
    }

    internal static void WriteIndexRow(Utf8JsonWriter w, ModelIndexEntry r)
    {
        w.WriteStartObject();
        w.WriteString("name", r.Name);
        w.WriteString("version", r.Version);
        w.WriteString("state", r.State);
        w.WriteString("reason", r.Reason);
        if (r.Engine is not null) w.WriteString("engine", r.Engine);
        w.WriteNumber("memory_bytes", r.MemoryBytes);
        w.WriteBoolean("pinned", r.Pinned);
        w.WriteBoolean("dynamic_batching", r.Batching);
        w.WriteNumber("in_flight", r.InFlight);
        if (r.LastUsedUtc is { } t) w.WriteString("last_used", t.ToString("O", CultureInfo.InvariantCulture));
        w.WriteEndObject();
    }

    internal static void WriteMetadata(Utf8JsonWriter w, ModelMetadata m)
    {
        w.WriteStartObject();
        w.WriteString("name", m.Name);
        w.WriteStartArray("versions");
        foreach (var v in m.Versions) w.WriteStringValue(v);
        w.WriteEndArray();
        w.WriteString("platform", m.Platform);
        foreach (var (key, specs) in new[] { ("inputs", m.Inputs), ("outputs", m.Outputs) })
        {
            w.WriteStartArray(key);
            foreach (var s in specs)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("datatype", s.DataType.Name());
                w.WriteStartArray("shape");
                foreach (var d in s.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    internal static Task Json(HttpContext ctx, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer)) write(w);
        return HttpIo.WriteJsonAsync(ctx, buffer.WrittenMemory);
    }

    /// <summary>Runs an endpoint body; refusals become <c>{"error": ...}</c> with their status, anything else a logged 500.</summary>
    internal static async Task Guard(HttpContext ctx, ILogger logger, Func<Task> body)
    {
        try { await body(); }
        catch (InferenceException e) { await HttpIo.WriteErrorAsync(ctx, e); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
        catch (Exception e)
        {
            logger.LogError(e, "Unhandled error on {Path}", ctx.Request.Path);
            await HttpIo.WriteErrorAsync(ctx, new InferenceException(500, $"internal error: {e.Message}"));
        }
    }

    private static async Task InferAsync(HttpContext ctx, string name, string? version, ServingOptions options, InferenceService service,
        ServingMetrics metrics, ModelRepository repository, ILogger logger)
    {
        long start = InferenceService.Now();
        try
        {
            service.Cache.Resolve(name, version); // an unknown model or version is the first thing to report
            // Returned to the pool when this method ends, after the response is written: by then no batch can
            // still be reading it (a request taken into a batch waits for that batch, even past its timeout).
            using var pooled = await HttpIo.ReadPooledBodyAsync(ctx, options.MaxRequestBodyBytes);
            double receive = InferenceService.Since(start);
            var body = pooled.Memory;
            long? headerLength = null;
            if (ctx.Request.Headers.TryGetValue("Inference-Header-Content-Length", out var hv))
            {
                if (!long.TryParse(hv.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out long h))
                    throw InferenceException.BadRequest($"Inference-Header-Content-Length '{hv}' is not a byte count");
                headerLength = h;
            }
            // JSON-decoded tensors live in pooled arrays with the same lifetime as the pooled body.
            using var rented = new RentedBuffers();
            var request = OipJson.ParseRequest(body, headerLength, name, version, rented);
            var (response, timings) = await service.InferAsync(request, ctx.RequestAborted);
            var buffer = new ArrayBufferWriter<byte>(1024);
            int? header = OipJson.WriteResponse(response, request, buffer);
            ctx.Response.StatusCode = 200;
            if (header is int hl)
            {
                ctx.Response.Headers["Inference-Header-Content-Length"] = hl.ToString(CultureInfo.InvariantCulture);
                ctx.Response.ContentType = "application/octet-stream";
            }
            else ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength = buffer.WrittenCount;
            metrics.Success(response.ModelName, response.ModelVersion, "http", timings, InferenceService.Since(start), receive);
            try { await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted); }
            catch (OperationCanceledException) { }
        }
        catch (InferenceException e)
        {
            metrics.Failure(repository.Find(name) is null ? "" : name, version ?? "", e.StatusCode);
            if (e.StatusCode >= 500 && e.StatusCode != 503) logger.LogWarning("Inference on {Model} failed with {Status}: {Reason}", name, e.StatusCode, e.Message);
            await HttpIo.WriteErrorAsync(ctx, e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
        catch (Exception e)
        {
            metrics.Failure(repository.Find(name) is null ? "" : name, version ?? "", 500);
            logger.LogError(e, "Inference on {Model} failed", name);
            await HttpIo.WriteErrorAsync(ctx, new InferenceException(500, $"inference failed: {e.Message}"));
        }
    }
}
