// Helpers for bench/serve.sh:
//   peer PORT MODEL.onnx         the endpoint a .NET user would write first: minimal API + ONNX Runtime, OIP JSON for `simple`
//   inproc MODEL_DIR N SECONDS [BATCH]   the server's backend for that config called in-process from N concurrent
//                                workers (rows/s, p50 µs, p99 µs); BATCH rows per call (default 1)
//   batch-gain MODEL.onnx THREADS REPS 1,4,8,16   per-image latency of the serving backends (native, ORT) by batch size,
//                                batch sizes and engines interleaved within each repetition so both see the same load
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
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Tessera.Serving.Backends;
using Tessera.Serving.Grpc.Inference;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

switch (args[0])
{
    case "peer": Peer(int.Parse(args[1]), args[2]); break;
    case "inproc": InProcess(args[1], int.Parse(args[2]), double.Parse(args[3]), args.Length > 4 ? int.Parse(args[4]) : 1); break;
    case "grpc-body": GrpcBody(args[1]); break;
    case "batch-gain": BatchGain(args[1], int.Parse(args[2]), int.Parse(args[3]), [.. args[4].Split(',').Select(int.Parse)]); break;
    default: Console.Error.WriteLine("usage: peer PORT MODEL | inproc MODEL_DIR N SECONDS [BATCH] | grpc-body OUT"); return 2;
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

static void InProcess(string modelDir, int workers, double seconds, int batch)
{
    // The engine the server would pick for this config (engine parameter, else native first), called directly.
    var config = ModelConfig.Load(modelDir, Path.GetFileName(modelDir.TrimEnd('/')));
    string version = Path.Combine(modelDir, "1");
    var registry = new BackendRegistry([new TesseraOnnxBackendFactory(), new OnnxRuntimeBackendFactory()], NullLogger<BackendRegistry>.Instance);
    using var backend = registry.Load(config, version);
    Console.Error.WriteLine($"in-process engine: {backend.Engine}");
    var rng = new Random(0);
    var inputs = backend.Inputs.Select(spec =>
    {
        long[] shape = [.. spec.Shape.Select((d, i) => d >= 0 ? d : i == 0 ? batch : 1)];
        int n = (int)InferTensor.ElementCountOf(shape);
        return spec.DataType switch
        {
            DataType.Int32 => InferTensor.FromArray(spec.Name, spec.DataType, shape, Enumerable.Range(0, n).Select(i => i % 16).ToArray()),
            DataType.FP32 => InferTensor.FromArray(spec.Name, spec.DataType, shape, Enumerable.Range(0, n).Select(_ => rng.NextSingle()).ToArray()),
            _ => throw new NotSupportedException($"inproc fills INT32 and FP32 inputs, not {spec.DataType}"),
        };
    }).ToArray();
    // Warm up for a second (JIT, ORT arenas), at least three runs.
    var warm = Stopwatch.StartNew();
    for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 1; i++) backend.Infer(inputs, null);
    long count = 0;
    var latencies = new List<double>[workers];
    var stop = Stopwatch.StartNew();
    var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
    {
        var mine = latencies[w] = new List<double>(1 << 16);
        while (stop.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            backend.Infer(inputs, null);
            mine.Add((Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency);
            Interlocked.Increment(ref count);
        }
    })).ToList();
    threads.ForEach(t => t.Start());
    threads.ForEach(t => t.Join());
    var all = latencies.SelectMany(l => l).Order().ToArray();
    // Rows per second (requests x batch), p50 and p99 of one call in microseconds.
    Console.WriteLine($"{count * batch / stop.Elapsed.TotalSeconds:F1} {all[all.Length / 2]:F0} {all[(int)(all.Length * 0.99)]:F0}");
}

static void BatchGain(string model, int threads, int reps, int[] batches)
{
    Tessera.Kernels.GemmKernel.MaxThreads = threads; // the native engine's GEMMs; its conv im2col loop uses the pool as is
    string dir = Path.GetDirectoryName(Path.GetFullPath(model))!;
    var config = new ModelConfig
    {
        Name = "m", DefaultModelFilename = Path.GetFileName(model),
        Parameters = new Dictionary<string, string> { ["intra_op_threads"] = threads.ToString() },
    };
    var engines = new (string Name, IModelBackend Backend)[]
    {
        ("native", new TesseraOnnxBackendFactory().Load(config, dir)),
        ("ort", new OnnxRuntimeBackendFactory().Load(config, dir)),
    };
    var rng = new Random(0);
    var spec = engines[0].Backend.Inputs[0];
    var inputs = batches.ToDictionary(b => b, b =>
    {
        long[] shape = [b, .. spec.Shape.Skip(1)];
        return new[] { InferTensor.FromArray(spec.Name, DataType.FP32, shape, Enumerable.Range(0, (int)InferTensor.ElementCountOf(shape)).Select(_ => rng.NextSingle()).ToArray()) };
    });
    var times = engines.ToDictionary(e => e.Name, _ => batches.ToDictionary(b => b, _ => new List<double>()));
    foreach (var (_, backend) in engines) foreach (int b in batches) backend.Infer(inputs[b], null); // warm-up
    for (int r = 0; r < reps; r++)
        foreach (int b in batches)
            foreach (var (name, backend) in engines)
            {
                long t0 = Stopwatch.GetTimestamp();
                backend.Infer(inputs[b], null);
                times[name][b].Add((Stopwatch.GetTimestamp() - t0) * 1e3 / Stopwatch.Frequency / b);
            }
    Console.WriteLine($"threads {threads}, {reps} reps; median ms per image (gain vs batch 1)");
    foreach (var (name, backend) in engines)
    {
        double one = Median(times[name][batches[0]]);
        Console.WriteLine($"{name}: " + string.Join("  ", batches.Select(b => $"b{b} {Median(times[name][b]):F1} ({one / Median(times[name][b]):F2}x)")));
        backend.Dispose();
    }
}

static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

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
