using System.Collections.Concurrent;
using System.Diagnostics;
using Prometheus;

namespace Tessera.Serving.Metrics;

/// <summary>
/// The server's Prometheus metrics (one registry per server, so several servers can share a process in tests)
/// and the small in-memory per-model statistics the dashboard polls.
/// </summary>
public sealed class ServingMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.00001, 2, 22); // 10 µs … ~21 s

    private readonly Counter _requests, _cacheHits, _cacheMisses, _evictions, _loads, _loadFailures;
    private readonly Histogram _queue, _compute, _total, _batch, _overhead, _receive;
    private readonly Gauge _modelBytes, _workingSet, _gcHeap, _loadedModels;
    private readonly ConcurrentDictionary<string, ModelStats> _stats = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Model, string Version, string Protocol), SuccessSeries> _success = new();

    /// <summary>The labelled series one successful request touches, looked up once per model/version/protocol
    /// instead of five label lookups (and their label arrays) per request.</summary>
    private sealed record SuccessSeries(Counter.Child Requests, Histogram.Child Queue, Histogram.Child Compute,
        Histogram.Child Total, Histogram.Child Overhead, Histogram.Child Receive, ModelStats Stats);

    public ServingMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _requests = f.CreateCounter("tessera_inference_requests_total", "Inference requests by model, version and outcome (success or the HTTP status of the failure).",
            new CounterConfiguration { LabelNames = ["model", "version", "outcome"] });
        _queue = f.CreateHistogram("tessera_inference_queue_seconds", "Time a request waited for a model instance.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = LatencyBuckets });
        _compute = f.CreateHistogram("tessera_inference_compute_seconds", "Time the backend ran the request's batch.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = LatencyBuckets });
        _total = f.CreateHistogram("tessera_inference_request_seconds", "Server time from a decoded request to its encoded response (decode, queue, compute, encode).",
            new HistogramConfiguration { LabelNames = ["model", "protocol"], Buckets = LatencyBuckets });
        _overhead = f.CreateHistogram("tessera_inference_overhead_seconds", "Server time per request outside queueing, loading and compute (decode, validate, schedule, encode).",
            new HistogramConfiguration { LabelNames = ["model", "protocol"], Buckets = LatencyBuckets });
        _receive = f.CreateHistogram("tessera_inference_receive_seconds", "Time the REST handler spent reading the request body off the connection (the client's upload; gRPC hands over whole messages, so 0 there).",
            new HistogramConfiguration { LabelNames = ["model", "protocol"], Buckets = LatencyBuckets });
        _batch = f.CreateHistogram("tessera_inference_batch_size", "Rows per executed batch.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = [1, 2, 4, 8, 16, 32, 64, 128] });
        _cacheHits = f.CreateCounter("tessera_cache_hits_total", "Requests that found their model loaded.", "model");
        _cacheMisses = f.CreateCounter("tessera_cache_misses_total", "Requests that had to wait for their model to load.", "model");
        _evictions = f.CreateCounter("tessera_cache_evictions_total", "Models unloaded to stay within the memory budget.", "model");
        _loads = f.CreateCounter("tessera_model_loads_total", "Model version loads.", "model");
        _loadFailures = f.CreateCounter("tessera_model_load_failures_total", "Model version loads that failed.", "model");
        _modelBytes = f.CreateGauge("tessera_models_memory_bytes", "Estimated bytes held by loaded models.");
        _loadedModels = f.CreateGauge("tessera_models_loaded", "Model versions loaded.");
        _workingSet = f.CreateGauge("tessera_process_working_set_bytes", "Process working set.");
        _gcHeap = f.CreateGauge("tessera_process_gc_heap_bytes", "Managed heap size.");
        Registry.AddBeforeCollectCallback(() =>
        {
            using var p = Process.GetCurrentProcess();
            _workingSet.Set(p.WorkingSet64);
            _gcHeap.Set(GC.GetTotalMemory(false));
        });
    }

    public CollectorRegistry Registry { get; }

    public ModelStats Stats(string model) => _stats.GetOrAdd(model, _ => new ModelStats());

    /// <summary>Records a served request; <paramref name="total"/> runs from the handler's start to the encoded response,
    /// of which <paramref name="receive"/> was spent waiting for the request body to arrive.</summary>
    public void Success(string model, string version, string protocol, Protocol.InferTimings t, double total, double receive = 0)
    {
        // Only served models reach here, so the cache is bounded by models x versions x protocols.
        var series = _success.GetOrAdd((model, version, protocol), k => new SuccessSeries(
            _requests.WithLabels(k.Model, k.Version, "success"), _queue.WithLabels(k.Model), _compute.WithLabels(k.Model),
            _total.WithLabels(k.Model, k.Protocol), _overhead.WithLabels(k.Model, k.Protocol),
            _receive.WithLabels(k.Model, k.Protocol), Stats(k.Model)));
        series.Requests.Inc();
        series.Queue.Observe(t.QueueSeconds);
        series.Compute.Observe(t.ComputeSeconds);
        series.Total.Observe(total);
        series.Receive.Observe(receive);
        // What the server itself adds: decoding, validation, scheduling hand-offs and encoding, but not time
        // spent waiting for an instance, for a cold model to load, computing, or for the client's upload (a 600 KB
        // image body arrives over milliseconds; Triton's figures also start from a received request).
        double overhead = Math.Max(0, total - receive - t.LoadSeconds - t.QueueSeconds - t.ComputeSeconds);
        series.Overhead.Observe(overhead);
        series.Stats.Record(total, overhead, ok: true);
    }

    public void Failure(string model, string version, int status)
    {
        // Unknown names are not labels: a client could otherwise grow the registry without bound.
        if (model.Length == 0) return;
        _requests.WithLabels(model, version, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        Stats(model).Record(0, 0, ok: false);
    }

    public void Batch(string model, int rows) => _batch.WithLabels(model).Observe(rows);
    public void CacheHit(string model) => _cacheHits.WithLabels(model).Inc();
    public void CacheMiss(string model) => _cacheMisses.WithLabels(model).Inc();
    public void Eviction(string model) => _evictions.WithLabels(model).Inc();
    public void Load(string model) => _loads.WithLabels(model).Inc();
    public void LoadFailure(string model) => _loadFailures.WithLabels(model).Inc();

    public void Memory(long bytes, int models)
    {
        _modelBytes.Set(bytes);
        _loadedModels.Set(models);
    }

    public async Task WriteAsync(Stream output, CancellationToken ct) => await Registry.CollectAndExportAsTextAsync(output, ct);
}

/// <summary>Counts and a window of recent latencies for one model, for the dashboard's live view.</summary>
public sealed class ModelStats
{
    private readonly Lock _lock = new();
    private readonly double[] _recent = new double[512];
    private int _next, _filled;
    private long _success, _failure;
    private double _overheadSum;

    public void Record(double total, double overhead, bool ok)
    {
        if (!ok) { Interlocked.Increment(ref _failure); return; }
        lock (_lock)
        {
            _success++;
            _overheadSum += overhead;
            _recent[_next] = total;
            _next = (_next + 1) % _recent.Length;
            _filled = Math.Min(_filled + 1, _recent.Length);
        }
    }

    /// <summary>Cumulative counts and latency quantiles (milliseconds) over the last 512 successes.</summary>
    public (long Success, long Failure, double P50Ms, double P99Ms, double MeanOverheadUs) Snapshot()
    {
        lock (_lock)
        {
            var window = _recent.AsSpan(0, _filled).ToArray();
            Array.Sort(window);
            double q(double f) => window.Length == 0 ? 0 : window[Math.Min(window.Length - 1, (int)(f * window.Length))] * 1000;
            double overhead = _success == 0 ? 0 : _overheadSum / _success * 1e6;
            return (_success, Interlocked.Read(ref _failure), q(0.5), q(0.99), overhead);
        }
    }
}
