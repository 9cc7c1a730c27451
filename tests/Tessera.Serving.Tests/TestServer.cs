using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Serving.Hosting;
using Tessera.Serving.Scheduling;

namespace Tessera.Serving.Tests;

/// <summary>A real server on 127.0.0.1 (free ports) over a temporary copy of the test repository.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebApplication app, ServingOptions options)
    {
        App = app;
        Options = options;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{options.HttpPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        Grpc = GrpcChannel.ForAddress($"http://127.0.0.1:{options.GrpcPort}", new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20, MaxSendMessageSize = 64 << 20 });
    }

    public WebApplication App { get; }
    public ServingOptions Options { get; }
    public HttpClient Http { get; }
    public GrpcChannel Grpc { get; }
    public string Repository => Options.RepositoryPath;
    public ModelCache Cache => App.Services.GetRequiredService<ModelCache>();

    /// <summary>The shipped fixture repository (Triton's simple, simple_int8, simple_string).</summary>
    public static string FixtureRepository => Path.Combine(AppContext.BaseDirectory, "fixtures", "triton-model-repository");

    public static async Task<TestServer> StartAsync(Action<ServingOptions>? configure = null, Action<string>? prepare = null,
        Action<IServiceCollection>? services = null)
    {
        string repo = Path.Combine(Path.GetTempPath(), "tessera-serve-tests", Guid.NewGuid().ToString("N"));
        CopyDirectory(FixtureRepository, repo);
        prepare?.Invoke(repo);
        var options = new ServingOptions
        {
            RepositoryPath = repo,
            Host = "127.0.0.1",
            HttpPort = FreePort(),
            GrpcPort = FreePort(),
            EnableRepositoryApi = true,
            WatchPollInterval = TimeSpan.FromSeconds(1),
            WatchDebounce = TimeSpan.FromMilliseconds(100),
            ShutdownTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        var app = ServingHost.Build(options, logging => { }, services);
        await app.StartAsync();
        return new TestServer(app, options);
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
        {
            string target = Path.Combine(to, Path.GetFileName(f));
            File.Copy(f, target, true);
            File.SetAttributes(target, FileAttributes.Normal);
        }
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }

    /// <summary>Copies model <paramref name="from"/> to a new model directory <paramref name="name"/> with a rewritten config name.</summary>
    public static void CloneModel(string repo, string from, string name, Func<string, string>? editConfig = null)
    {
        CopyDirectory(Path.Combine(repo, from), Path.Combine(repo, name));
        string config = Path.Combine(repo, name, "config.pbtxt");
        string text = File.ReadAllText(config).Replace($"name: \"{from}\"", $"name: \"{name}\"");
        File.WriteAllText(config, editConfig is null ? text : editConfig(text));
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> PostJsonAsync(string path, string json)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await ReadJson(response));
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        return (response.StatusCode, await ReadJson(response));
    }

    public static async Task<JsonElement> ReadJson(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0) return default;
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    public static string SimpleRequest(int[] a, int[] b, string model = "INT32") =>
        $$"""{"inputs":[{"name":"INPUT0","datatype":"{{model}}","shape":[1,16],"data":[{{string.Join(",", a)}}]},{"name":"INPUT1","datatype":"{{model}}","shape":[1,16],"data":[{{string.Join(",", b)}}]}]}""";

    public static ByteArrayContent Binary(string header, params byte[][] blobs)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var body = h.Concat(blobs.SelectMany(b => b)).ToArray();
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", h.Length.ToString());
        return content;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Grpc.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try { Directory.Delete(Repository, true); } catch (IOException) { }
    }
}

/// <summary>One server shared by the protocol tests of a class.</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestServer.StartAsync(
        o => o.MaxRequestBodyBytes = 1 << 20,
        repo =>
        {
            // A model whose file is not ONNX: it must fail to load with a reason and disturb nothing else.
            TestServer.CloneModel(repo, "simple", "broken");
            File.WriteAllText(Path.Combine(repo, "broken", "1", "model.onnx"), "this is not an onnx file");
            // simple, described by config.json instead of config.pbtxt, with two versions served.
            TestServer.CopyDirectory(Path.Combine(repo, "simple", "1"), Path.Combine(repo, "simple_json", "1"));
            TestServer.CopyDirectory(Path.Combine(repo, "simple", "1"), Path.Combine(repo, "simple_json", "2"));
            File.WriteAllText(Path.Combine(repo, "simple_json", "config.json"), """
                {"name": "simple_json", "max_batch_size": 8,
                 "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16]}, {"name": "INPUT1", "data_type": "TYPE_INT32", "dims": [16]}],
                 "output": [{"name": "OUTPUT0", "data_type": "TYPE_INT32", "dims": [16]}, {"name": "OUTPUT1", "data_type": "TYPE_INT32", "dims": [16]}],
                 "version_policy": {"all": {}},
                 "parameters": {"engine": {"string_value": "onnxruntime"}}}
                """);
        });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
