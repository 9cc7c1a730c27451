using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Backends;
using Tessera.Serving.Dashboard;
using Tessera.Serving.Grpc;
using Tessera.Serving.Http;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;
using Tessera.Serving.Scheduling;

namespace Tessera.Serving.Hosting;

/// <summary>
/// Builds the server: Kestrel with an HTTP/1.1 port (REST, /metrics, dashboard) and an HTTP/2 port (gRPC), the
/// repository, cache and backends as services.
/// </summary>
/// <example><code>
/// var app = ServingHost.Build(new ServingOptions { RepositoryPath = "models", HttpPort = 8000, GrpcPort = 8001 });
/// await app.RunAsync();
/// </code></example>
public static class ServingHost
{
    /// <param name="options">Ports, repository, budget and limits.</param>
    /// <param name="logging">Replaces the default console logging.</param>
    /// <param name="services">Adds services, e.g. further <see cref="IModelBackendFactory"/>s for new model kinds (registered after the built-in ones).</param>
    public static WebApplication Build(ServingOptions options, Action<ILoggingBuilder>? logging = null, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = "Tessera.Serving",
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Logging.ClearProviders();
        if (logging is not null) logging(builder.Logging);
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);

        var address = options.Host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "" => IPAddress.Any,
            _ => IPAddress.Parse(options.Host),
        };
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = Math.Max(options.MaxRequestBodyBytes, options.GrpcMaxMessageBytes + 1024);
            k.Limits.Http2.MaxStreamsPerConnection = 1024;
            k.Listen(address, options.HttpPort, l => l.Protocols = HttpProtocols.Http1);
            if (options.GrpcPort > 0) k.Listen(address, options.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ServingMetrics>();
        builder.Services.AddSingleton(sp => new ModelRepository(options.RepositoryPath, sp.GetRequiredService<ILogger<ModelRepository>>()));
        // Order matters: the native engine is tried first, ONNX Runtime when it cannot run a model.
        builder.Services.AddSingleton<IModelBackendFactory, TesseraOnnxBackendFactory>();
        builder.Services.AddSingleton<IModelBackendFactory, OnnxRuntimeBackendFactory>();
        builder.Services.AddSingleton<IModelBackendFactory, TextClassifierBackendFactory>();
        builder.Services.AddSingleton<IModelBackendFactory, TreeEnsembleBackendFactory>();
        services?.Invoke(builder.Services);
        builder.Services.AddSingleton<BackendRegistry>();
        builder.Services.AddSingleton<ModelCache>();
        builder.Services.AddSingleton<InferenceService>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.GrpcMaxMessageBytes;
            o.MaxSendMessageSize = options.GrpcMaxMessageBytes;
        });

        var app = builder.Build();
        app.MapOpenInferenceProtocol();
        app.MapDashboard();
        app.MapGrpcService<InferenceGrpcService>();

        var lifetime = app.Lifetime;
        var repository = app.Services.GetRequiredService<ModelRepository>();
        var cache = app.Services.GetRequiredService<ModelCache>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Tessera.Serving");
        lifetime.ApplicationStarted.Register(() =>
        {
            if (options.WatchRepository) repository.Watch(options.WatchDebounce, options.WatchPollInterval);
            _ = cache.PreloadAsync();
            log.LogInformation("Serving {Count} models from {Repository}: HTTP on {Host}:{HttpPort}, gRPC on {GrpcPort}, memory budget {Budget}",
                repository.Entries.Count, repository.Root, options.Host, options.HttpPort, options.GrpcPort > 0 ? options.GrpcPort.ToString() : "off",
                options.MemoryBudgetBytes > 0 ? $"{options.MemoryBudgetBytes} bytes" : "unlimited");
        });
        lifetime.ApplicationStopping.Register(() => log.LogInformation("Shutting down: draining in-flight requests"));
        lifetime.ApplicationStopped.Register(() =>
        {
            repository.Dispose();
            cache.Dispose();
        });
        return app;
    }
}
