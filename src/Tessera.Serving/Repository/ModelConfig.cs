using System.Globalization;
using System.Text.Json;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Repository;

/// <summary>An input or output declared in a model config; dims exclude the batch dimension.</summary>
public sealed record TensorConfig(string Name, DataType DataType, long[] Dims);

/// <summary>Which versions of a model to serve: the latest N, all, or a specific list.</summary>
public sealed record VersionPolicy(string Kind, int LatestCount = 1, IReadOnlyList<long>? Versions = null)
{
    public static readonly VersionPolicy Default = new("latest", 1);

    public IEnumerable<long> Select(IEnumerable<long> available) => Kind switch
    {
        "all" => available.Order(),
        "specific" => available.Where(v => Versions!.Contains(v)).Order(),
        _ => available.OrderDescending().Take(LatestCount).Order(),
    };

    public override string ToString() => Kind switch
    {
        "all" => "all",
        "specific" => $"specific [{string.Join(",", Versions!)}]",
        _ => $"latest {LatestCount}",
    };
}

/// <summary>Triton's <c>dynamic_batching</c> block.</summary>
public sealed record DynamicBatchingConfig(TimeSpan MaxQueueDelay, IReadOnlyList<int> PreferredBatchSizes);

/// <summary>
/// The fields of Triton's model configuration that Tessera reads, from <c>config.pbtxt</c> or <c>config.json</c>.
/// Tessera adds per-model <c>parameters</c>: <c>engine</c> (<c>tessera</c> or <c>onnxruntime</c>), <c>pinned</c>
/// (never evicted from the cache) and <c>memory_bytes</c> (overrides the backend's estimate).
/// </summary>
public sealed class ModelConfig
{
    public required string Name { get; init; }
    public string Platform { get; init; } = "";
    public string Backend { get; init; } = "";
    public int MaxBatchSize { get; init; }
    public IReadOnlyList<TensorConfig> Inputs { get; init; } = [];
    public IReadOnlyList<TensorConfig> Outputs { get; init; } = [];
    public VersionPolicy VersionPolicy { get; init; } = VersionPolicy.Default;
    public DynamicBatchingConfig? DynamicBatching { get; init; }
    public int InstanceCount { get; init; } = 1;

    /// <summary>Bound on queued requests (Triton's <c>default_queue_policy.max_queue_size</c>; 0 = the server default).</summary>
    public int MaxQueueSize { get; init; }
    public string DefaultModelFilename { get; init; } = "model.onnx";
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public bool Pinned => Parameters.TryGetValue("pinned", out var p) && p is "true" or "1";
    public long? MemoryBytesOverride =>
        Parameters.TryGetValue("memory_bytes", out var p) && long.TryParse(p, CultureInfo.InvariantCulture, out var b) ? b : null;

    /// <summary>The engine chosen: an explicit <c>engine</c> parameter, else the <c>backend</c> field, else empty (the default).</summary>
    public string Engine => Parameters.TryGetValue("engine", out var e) ? e : Backend is "tessera" or "onnxruntime" ? Backend : "";

    /// <summary>Reads <c>config.pbtxt</c> or <c>config.json</c> in a model directory; a directory with neither gets a default config.</summary>
    public static ModelConfig Load(string modelDirectory, string name)
    {
        string pbtxt = Path.Combine(modelDirectory, "config.pbtxt"), json = Path.Combine(modelDirectory, "config.json");
        if (File.Exists(pbtxt)) return From(TextProto.Parse(File.ReadAllText(pbtxt)), name);
        if (File.Exists(json))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            return From(ProtoMessage.FromJson(doc.RootElement), name);
        }
        return new ModelConfig { Name = name };
    }

    public static ModelConfig From(ProtoMessage m, string directoryName)
    {
        string name = m.Scalar("name") ?? directoryName;
        if (name != directoryName)
            throw new FormatException($"config names the model '{name}' but its directory is '{directoryName}'");
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in m.Messages("parameters"))
        {
            string key = p.Scalar("key") ?? throw new FormatException("a parameters entry has no key");
            parameters[key] = p.Message("value")?.Scalar("string_value") ?? p.Scalar("value") ?? "";
        }
        DynamicBatchingConfig? batching = null;
        if (m.Message("dynamic_batching") is { } db)
            batching = new DynamicBatchingConfig(
                TimeSpan.FromMicroseconds(db.Int("max_queue_delay_microseconds", 0)),
                [.. db.Scalars("preferred_batch_size").Select(s => int.Parse(s, CultureInfo.InvariantCulture))]);
        int maxQueue = (int)(m.Message("dynamic_batching")?.Message("default_queue_policy")?.Int("max_queue_size", 0) ?? 0);
        int instances = 0;
        foreach (var g in m.Messages("instance_group")) instances += (int)g.Int("count", 1);

        return new ModelConfig
        {
            Name = name,
            Platform = m.Scalar("platform") ?? "",
            Backend = m.Scalar("backend") ?? "",
            MaxBatchSize = (int)m.Int("max_batch_size", 0),
            Inputs = [.. m.Messages("input").Select(Tensor)],
            Outputs = [.. m.Messages("output").Select(Tensor)],
            VersionPolicy = Policy(m.Message("version_policy")),
            DynamicBatching = batching,
            InstanceCount = Math.Max(1, instances),
            MaxQueueSize = maxQueue,
            DefaultModelFilename = m.Scalar("default_model_filename") ?? "model.onnx",
            Parameters = parameters,
        };
    }

    private static TensorConfig Tensor(ProtoMessage t)
    {
        string name = t.Scalar("name") ?? throw new FormatException("an input or output has no name");
        string type = t.Scalar("data_type") ?? throw new FormatException($"tensor '{name}' has no data_type");
        if (!DataTypes.TryParseConfig(type, out var dt)) throw new FormatException($"tensor '{name}' has unknown data_type {type}");
        return new TensorConfig(name, dt, [.. t.Scalars("dims").Select(s => long.Parse(s, CultureInfo.InvariantCulture))]);
    }

    private static VersionPolicy Policy(ProtoMessage? p)
    {
        if (p is null) return VersionPolicy.Default;
        if (p.Message("all") is not null) return new VersionPolicy("all");
        if (p.Message("specific") is { } s)
            return new VersionPolicy("specific", Versions: [.. s.Scalars("versions").Select(v => long.Parse(v, CultureInfo.InvariantCulture))]);
        if (p.Message("latest") is { } l) return new VersionPolicy("latest", (int)Math.Max(1, l.Int("num_versions", 1)));
        return VersionPolicy.Default;
    }
}
