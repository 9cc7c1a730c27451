using System.Diagnostics;
using Tessera.Serving.Backends;
using Tessera.Serving.Hosting;
using Tessera.Serving.Repository;
using Tessera.Serving.Scheduling;

namespace Tessera.Serving.Protocol;

/// <summary>The tensors of a model as the metadata endpoints report them.</summary>
public sealed record ModelMetadata(string Name, IReadOnlyList<string> Versions, string Platform, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>What a completed request measured, for metrics.</summary>
public readonly record struct InferTimings(double LoadSeconds, double QueueSeconds, double ComputeSeconds);

/// <summary>
/// The protocol-independent request path shared by REST and gRPC: find the model (loading it if cold), check the
/// inputs against its signature, schedule, and shape the response.
/// </summary>
public sealed class InferenceService(ModelCache cache, ServingOptions options)
{
    public ModelCache Cache => cache;

    public async Task<(InferResponse Response, InferTimings Timings)> InferAsync(InferRequest request, CancellationToken ct)
    {
        long start = Now();
        using var lease = await cache.AcquireAsync(request.ModelName, request.ModelVersion, ct).ConfigureAwait(false);
        double load = lease.WaitedForLoad ? Since(start) : 0;
        var model = lease.Model;
        var inputs = Check(model, request.Inputs);
        List<string>? outputs = null;
        if (request.Outputs is { Count: > 0 } requested)
        {
            outputs = new List<string>(requested.Count);
            foreach (var o in requested)
            {
                if (!model.Outputs.Any(s => s.Name == o.Name))
                    throw InferenceException.BadRequest($"model '{model.Name}' has no output named '{o.Name}'; its outputs are {Describe(model.Outputs)}");
                if (!outputs.Contains(o.Name)) outputs.Add(o.Name);
            }
        }
        var timeout = request.Timeout is { } t && t < options.RequestTimeout ? t : options.RequestTimeout;
        var result = await model.Scheduler.RunAsync(inputs, outputs, timeout, ct).ConfigureAwait(false);
        var response = new InferResponse { ModelName = model.Name, ModelVersion = model.VersionText, Id = request.Id, Outputs = result.Outputs };
        return (response, new InferTimings(load, result.QueueSeconds, result.ComputeSeconds));
    }

    private static string Describe(IEnumerable<TensorSpec> specs) =>
        string.Join(", ", specs.Select(s => $"{s.Name} ({s.DataType.Name()} [{string.Join(",", s.Shape)}])"));

    /// <summary>Checks inputs against the model's signature and returns them in the signature's order.</summary>
    internal static IReadOnlyList<InferTensor> Check(LoadedModel model, IReadOnlyList<InferTensor> given)
    {
        var ordered = new InferTensor[model.Inputs.Count];
        foreach (var t in given)
        {
            int i = -1;
            for (int k = 0; k < model.Inputs.Count; k++) if (model.Inputs[k].Name == t.Name) { i = k; break; }
            if (i < 0) throw InferenceException.BadRequest($"model '{model.Name}' has no input named '{t.Name}'; its inputs are {Describe(model.Inputs)}");
            if (ordered[i] is not null) throw InferenceException.BadRequest($"input '{t.Name}' is given twice");
            var spec = model.Inputs[i];
            if (t.DataType != spec.DataType)
                throw InferenceException.BadRequest($"input '{t.Name}' of model '{model.Name}' expects datatype {spec.DataType.Name()}, got {t.DataType.Name()}");
            bool ok = t.Shape.Length == spec.Shape.Length;
            for (int d = 0; ok && d < t.Shape.Length; d++) ok = spec.Shape[d] < 0 || spec.Shape[d] == t.Shape[d];
            if (!ok)
                throw InferenceException.BadRequest($"input '{t.Name}' of model '{model.Name}' expects shape [{string.Join(",", spec.Shape)}], got {t.ShapeText}");
            int maxBatch = model.Config.MaxBatchSize;
            if (maxBatch > 0 && model.Config.Inputs.Count > 0 && t.Shape[0] > maxBatch)
                throw InferenceException.BadRequest($"input '{t.Name}' has batch size {t.Shape[0]}, over max_batch_size {maxBatch} of model '{model.Name}'");
            ordered[i] = t;
        }
        for (int k = 0; k < ordered.Length; k++)
            if (ordered[k] is null)
                throw InferenceException.BadRequest($"input '{model.Inputs[k].Name}' ({model.Inputs[k].DataType.Name()} [{string.Join(",", model.Inputs[k].Shape)}]) of model '{model.Name}' is missing");
        if (ordered.Length > 1 && model.Config.MaxBatchSize > 0)
            for (int k = 1; k < ordered.Length; k++)
                if (ordered[k].Shape.Length > 0 && ordered[0].Shape.Length > 0 && ordered[k].Shape[0] != ordered[0].Shape[0])
                    throw InferenceException.BadRequest($"inputs '{ordered[0].Name}' and '{ordered[k].Name}' have different batch sizes ({ordered[0].Shape[0]} and {ordered[k].Shape[0]})");
        return ordered;
    }

    public async Task<ModelMetadata> MetadataAsync(string name, string? version, CancellationToken ct)
    {
        var (entry, v) = cache.Resolve(name, version);
        var config = entry.Config!;
        IReadOnlyList<TensorSpec> inputs, outputs;
        string engine;
        if (config.Inputs.Count > 0 && config.Outputs.Count > 0)
        {
            TensorSpec Spec(TensorConfig t) => new(t.Name, t.DataType, config.MaxBatchSize > 0 ? [-1, .. t.Dims] : t.Dims);
            inputs = [.. config.Inputs.Select(Spec)];
            outputs = [.. config.Outputs.Select(Spec)];
            engine = cache.Peek(name, v)?.Backend.Engine ?? config.Engine;
        }
        else
        {
            using var lease = await cache.AcquireAsync(name, version, ct).ConfigureAwait(false);
            (inputs, outputs, engine) = (lease.Model.Inputs, lease.Model.Outputs, lease.Model.Backend.Engine);
        }
        string platform = config.Platform.Length > 0 ? config.Platform
            : config.Backend.Length > 0 ? config.Backend
            : engine switch { "onnxruntime" => "onnxruntime_onnx", "" or "tessera" => "tessera_onnx", _ => engine };
        return new ModelMetadata(name, [.. entry.ServedVersions.Select(x => x.ToString(System.Globalization.CultureInfo.InvariantCulture))], platform, inputs, outputs);
    }

    public static long Now() => Stopwatch.GetTimestamp();
    public static double Since(long start) => (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
}
