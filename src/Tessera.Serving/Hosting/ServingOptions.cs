namespace Tessera.Serving.Hosting;

/// <summary>Everything a server is started with; <c>tessera serve</c> fills it from the command line.</summary>
public sealed class ServingOptions
{
    /// <summary>Directory in Triton's layout: <c>&lt;model&gt;/config.pbtxt</c> and <c>&lt;model&gt;/&lt;version&gt;/model.onnx</c>.</summary>
    public required string RepositoryPath { get; set; }

    /// <summary>Address to listen on; 127.0.0.1 keeps the server local.</summary>
    public string Host { get; set; } = "0.0.0.0";
    public int HttpPort { get; set; } = 8000;

    /// <summary>HTTP/2 port for gRPC; 0 turns gRPC off.</summary>
    public int GrpcPort { get; set; } = 8001;

    /// <summary>Bytes of loaded models the cache keeps; 0 means no limit.</summary>
    public long MemoryBudgetBytes { get; set; }

    /// <summary>Serves the repository extension's load/unload/index endpoints (off by default, as in Triton without explicit model control).</summary>
    public bool EnableRepositoryApi { get; set; }

    /// <summary>Loads every model at startup instead of on its first request.</summary>
    public bool PreloadAll { get; set; }

    /// <summary>Models loaded at startup and never evicted (besides those whose config says <c>pinned</c>).</summary>
    public IList<string> PinnedModels { get; set; } = [];

    public long MaxRequestBodyBytes { get; set; } = 64L << 20;
    public int GrpcMaxMessageBytes { get; set; } = 64 << 20;

    /// <summary>How long a request may wait for an instance before it gets 504, unless it names a shorter <c>timeout</c>.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Queued requests per model version before 429, unless the config sets <c>max_queue_size</c>.</summary>
    public int MaxQueueSize { get; set; } = 1024;

    public bool WatchRepository { get; set; } = true;
    public TimeSpan WatchPollInterval { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan WatchDebounce { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>How long shutdown waits for in-flight requests to finish.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
