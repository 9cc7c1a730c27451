// Helpers for bench/serve.sh:
//   peer PORT MODEL.onnx         the endpoint a .NET user would write first: minimal API + ONNX Runtime, OIP JSON for `simple`
//   inproc MODEL_DIR N SECONDS   the server's engine (ONNX Runtime backend) called in-process from N concurrent workers
//   grpc-body OUT                a gRPC-framed ModelInferRequest for `simple` (raw contents), for h2load
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Tessera.Serving.Backends;
using Tessera.Serving.Grpc.Inference;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

switch (args[0])
{
    case "peer": Peer(int.Parse(args[1]), args[2]); break;
    case "inproc": InProcess(args[1], int.Parse(args[2]), double.Parse(args[3])); break;
    case "grpc-body": GrpcBody(args[1]); break;
    default: Console.Error.WriteLine("usage: peer PORT MODEL | inproc MODEL_DIR N SECONDS | grpc-body OUT"); return 2;
}
return 0;

static void Peer(int port, string modelPath)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
    var app = builder.Build();
    using var session = new InferenceSession(modelPath);
    app.MapPost("/v2/models/simple/infer", async (HttpContext ctx) =>
    {
        using var doc = await JsonDocument.ParseAsync(ctx.Request.Body);
        var inputs = doc.RootElement.GetProperty("inputs");
        var values = new List<OrtValue>();
        var names = new List<string>();
        foreach (var input in inputs.EnumerateArray())
        {
            var data = input.GetProperty("data").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var shape = input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32, shape);
            data.AsSpan().CopyTo(value.GetTensorMutableDataAsSpan<int>());
            values.Add(value);
            names.Add(input.GetProperty("name").GetString()!);
        }
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, names, values, session.OutputNames);
        foreach (var v in values) v.Dispose();
        var outputs = session.OutputNames.Select((n, i) => new
        {
            name = n, datatype = "INT32", shape = results[i].GetTensorTypeAndShape().Shape, data = results[i].GetTensorDataAsSpan<int>().ToArray(),
        }).ToArray();
        return Results.Json(new { model_name = "simple", model_version = "1", outputs });
    });
    app.Run();
}

static void InProcess(string modelDir, int workers, double seconds)
{
    var config = ModelConfig.Load(modelDir, Path.GetFileName(modelDir.TrimEnd('/')));
    using var backend = new OnnxRuntimeBackendFactory().Load(config, Path.Combine(modelDir, "1"));
    var a = InferTensor.FromArray("INPUT0", DataType.Int32, [1, 16], Enumerable.Range(0, 16).ToArray());
    var b = InferTensor.FromArray("INPUT1", DataType.Int32, [1, 16], Enumerable.Repeat(1, 16).ToArray());
    for (int i = 0; i < 2000; i++) backend.Infer([a, b], null);
    long count = 0;
    var latencies = new List<double>[workers];
    var stop = Stopwatch.StartNew();
    var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
    {
        var mine = latencies[w] = new List<double>(1 << 16);
        while (stop.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            backend.Infer([a, b], null);
            mine.Add((Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency);
            Interlocked.Increment(ref count);
        }
    })).ToList();
    threads.ForEach(t => t.Start());
    threads.ForEach(t => t.Join());
    var all = latencies.SelectMany(l => l).Order().ToArray();
    Console.WriteLine($"{count / stop.Elapsed.TotalSeconds:F0} {all[all.Length / 2]:F0} {all[(int)(all.Length * 0.99)]:F0}");
}

static void GrpcBody(string path)
{
    var r = new ModelInferRequest { ModelName = "simple" };
    foreach (var name in new[] { "INPUT0", "INPUT1" })
        r.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "INT32", Shape = { 1, 16 } });
    int[] a = [.. Enumerable.Range(0, 16)], b = [.. Enumerable.Repeat(1, 16)];
    r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(a.AsSpan())));
    r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(b.AsSpan())));
    var payload = r.ToByteArray();
    var framed = new byte[5 + payload.Length];
    BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), payload.Length);
    payload.CopyTo(framed, 5);
    File.WriteAllBytes(path, framed);
}
