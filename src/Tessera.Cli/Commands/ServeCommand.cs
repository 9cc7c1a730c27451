using System.CommandLine;
using System.Globalization;
using Tessera.Serving.Hosting;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera serve</c>: the Open Inference Protocol server (HTTP + gRPC) over a model repository.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var repository = new Option<DirectoryInfo?>("--repository") { Description = "Model repository in Triton's layout (default: the bundled models/)." };
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "0.0.0.0" };
        var httpPort = new Option<int>("--http-port") { Description = "HTTP port (REST, /metrics, dashboard).", DefaultValueFactory = _ => 8000 };
        var grpcPort = new Option<int>("--grpc-port") { Description = "gRPC port (0 turns gRPC off).", DefaultValueFactory = _ => 8001 };
        var budget = new Option<string?>("--memory-budget") { Description = "Bytes of loaded models to keep (suffixes K, M, G); least recently used idle models are unloaded past it. Default: no limit." };
        var repositoryApi = new Option<bool>("--repository-api") { Description = "Enable the repository extension (index, load, unload)." };
        var pin = new Option<string[]>("--pin") { Description = "Models to load at startup and never evict.", AllowMultipleArgumentsPerToken = true };
        var preload = new Option<bool>("--preload") { Description = "Load every model at startup instead of on first request." };
        var timeout = new Option<double>("--request-timeout") { Description = "Seconds a request may wait in a model's queue before 504.", DefaultValueFactory = _ => 30 };
        var maxBody = new Option<string>("--max-request-size") { Description = "Largest REST body and gRPC message (suffixes K, M, G).", DefaultValueFactory = _ => "64M" };
        var cmd = new Command("serve", "Serve a model repository over the Open Inference Protocol (KServe v2 / Triton), HTTP and gRPC.")
        {
            repository, host, httpPort, grpcPort, budget, repositoryApi, pin, preload, timeout, maxBody,
        };
        cmd.SetAction(parse => CliErrors.Guard(() =>
        {
            string repo = parse.GetValue(repository)?.FullName ?? DefaultRepository();
            long size = ParseBytes(parse.GetValue(maxBody)!);
            var options = new ServingOptions
            {
                RepositoryPath = repo,
                Host = parse.GetValue(host)!,
                HttpPort = parse.GetValue(httpPort),
                GrpcPort = parse.GetValue(grpcPort),
                MemoryBudgetBytes = parse.GetValue(budget) is { } b ? ParseBytes(b) : 0,
                EnableRepositoryApi = parse.GetValue(repositoryApi),
                PinnedModels = parse.GetValue(pin) ?? [],
                PreloadAll = parse.GetValue(preload),
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                MaxRequestBodyBytes = size,
                GrpcMaxMessageBytes = (int)Math.Min(size, int.MaxValue - 4096),
            };
            var app = ServingHost.Build(options);
            Console.WriteLine($"Tessera serving {repo}: http://{options.Host}:{options.HttpPort}/ (dashboard), gRPC on {options.GrpcPort}. Ctrl+C drains and stops.");
            app.Run();
            return 0;
        }));
        return cmd;
    }

    /// <summary>The bundled repository: <c>models/</c> in the current directory, else at the checkout's root.</summary>
    private static string DefaultRepository()
    {
        if (Directory.Exists("models")) return Path.GetFullPath("models");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")) && Directory.Exists(Path.Combine(dir.FullName, "models")))
                return Path.Combine(dir.FullName, "models");
        throw new DirectoryNotFoundException("no models/ directory here or at the checkout root; pass --repository DIR");
    }

    internal static long ParseBytes(string text)
    {
        text = text.Trim();
        long scale = 1;
        char last = char.ToUpperInvariant(text.Length > 0 ? text[^1] : ' ');
        if (last is 'K' or 'M' or 'G') { scale = last switch { 'K' => 1L << 10, 'M' => 1L << 20, _ => 1L << 30 }; text = text[..^1]; }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0)
            throw new ArgumentException($"'{text}' is not a byte count (e.g. 1073741824, 512M, 2G)");
        return (long)(v * scale);
    }
}
