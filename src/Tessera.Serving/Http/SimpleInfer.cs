using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Hosting;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Http;

/// <summary>
/// <c>POST /infer</c> for clients that just want to send arrays: <c>{"model": "simple", "inputs": {"INPUT0": [[...]], ...}}</c>
/// answers <c>{"model": "simple", "version": "1", "outputs": {"OUTPUT0": [[...]], ...}}</c>. Datatypes come from the model,
/// shapes from the nesting; a model with a batch dimension accepts a single unbatched example too.
/// </summary>
internal static class SimpleInfer
{
    public static async Task HandleAsync(HttpContext ctx, ServingOptions options, InferenceService service, ServingMetrics metrics,
        ModelRepository repository, ILogger logger)
    {
        long start = InferenceService.Now();
        string model = "";
        await RestEndpoints.Guard(ctx, logger, async () =>
        {
            try
            {
                var body = await HttpIo.ReadBodyAsync(ctx, options.MaxRequestBodyBytes);
                double receive = InferenceService.Since(start);
                JsonDocument doc;
                try { doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 }); }
                catch (JsonException e) { throw InferenceException.BadRequest($"malformed JSON in the request: {e.Message}"); }
                using (doc)
                {
                    var root = doc.RootElement;
                    if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String)
                        throw InferenceException.BadRequest("the request needs a string 'model' and an object 'inputs'");
                    model = m.GetString()!;
                    string? version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    if (!root.TryGetProperty("inputs", out var ins) || ins.ValueKind != JsonValueKind.Object)
                        throw InferenceException.BadRequest("the request needs an object 'inputs' mapping input names to arrays");
                    var meta = await service.MetadataAsync(model, version, ctx.RequestAborted);
                    var inputs = new List<InferTensor>();
                    bool addedBatch = false;
                    foreach (var p in ins.EnumerateObject())
                    {
                        var spec = meta.Inputs.FirstOrDefault(s => s.Name == p.Name)
                            ?? throw InferenceException.BadRequest($"model '{model}' has no input named '{p.Name}'; its inputs are {string.Join(", ", meta.Inputs.Select(s => s.Name))}");
                        var shape = new List<long>();
                        ShapeOf(p.Value, shape);
                        if (spec.Shape.Length == shape.Count + 1 && spec.Shape[0] == -1) { shape.Insert(0, 1); addedBatch = true; }
                        var data = JsonTensorReader.Read(p.Value, spec.DataType, p.Name, out long count);
                        long[] s = [.. shape];
                        if (count != OipJson.ElementCount(s, p.Name))
                            throw InferenceException.BadRequest($"input '{p.Name}' is not a rectangular array: {count} elements for shape [{string.Join(",", s)}]");
                        inputs.Add(new InferTensor(p.Name, spec.DataType, s, data));
                    }
                    var request = new InferRequest { ModelName = model, ModelVersion = version, Inputs = inputs };
                    var (response, timings) = await service.InferAsync(request, ctx.RequestAborted);
                    var buffer = new ArrayBufferWriter<byte>(1024);
                    using (var w = new Utf8JsonWriter(buffer))
                    {
                        w.WriteStartObject();
                        w.WriteString("model", response.ModelName);
                        w.WriteString("version", response.ModelVersion);
                        w.WriteStartObject("outputs");
                        foreach (var o in response.Outputs)
                        {
                            w.WritePropertyName(o.Name);
                            var shape = addedBatch && o.Shape.Length > 0 && o.Shape[0] == 1 ? o.Shape[1..] : o.Shape;
                            WriteNested(w, o, shape, 0, 0);
                        }
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    metrics.Success(response.ModelName, response.ModelVersion, "http", timings, InferenceService.Since(start), receive);
                    await HttpIo.WriteJsonAsync(ctx, buffer.WrittenMemory);
                }
            }
            catch (InferenceException e)
            {
                metrics.Failure(repository.Find(model) is null ? "" : model, "", e.StatusCode);
                throw;
            }
        });
    }

    private static void ShapeOf(JsonElement e, List<long> shape)
    {
        while (e.ValueKind == JsonValueKind.Array)
        {
            shape.Add(e.GetArrayLength());
            if (e.GetArrayLength() == 0) return;
            e = e[0];
        }
    }

    private static int WriteNested(Utf8JsonWriter w, InferTensor t, long[] shape, int dim, int offset)
    {
        if (shape.Length == 0) { OipJson.WriteElements(w, t, offset, 1); return 1; }
        w.WriteStartArray();
        int written = 0;
        if (dim == shape.Length - 1)
        {
            OipJson.WriteElements(w, t, offset, (int)shape[dim]);
            written = (int)shape[dim];
        }
        else
            for (long i = 0; i < shape[dim]; i++) written += WriteNested(w, t, shape, dim + 1, offset + written);
        w.WriteEndArray();
        return written;
    }
}
