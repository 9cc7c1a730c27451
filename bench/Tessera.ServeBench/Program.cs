// Helpers for bench/serve.sh:
//   peer PORT MODEL.onnx [nospin]  the endpoint a .NET user would write first: minimal API + ONNX Runtime; OIP JSON,
//                                or the binary extension when Inference-Header-Content-Length is present; INT32/FP32
//   inproc MODEL_DIR N SECONDS [BATCH] [SLOTS]   the server's backend for that config called in-process from N
//                                concurrent workers (rows/s, p50 µs, p99 µs); BATCH rows per call (default 1); SLOTS > 0
//                                lets at most that many run at once, as the server's instance_group count does
//                                (default 0: all N at once)
//   batch-gain MODEL.onnx THREADS REPS 1,4,8,16   per-image latency of the serving backends (native, ORT) by batch size,
//                                batch sizes and engines interleaved within each repetition so both see the same load
//   json-decode BODY.json REPS   ms per decode of an OIP JSON request: the server's OipJson.ParseRequest (one buffer,
//                                and 4 KB segments) vs the peer's JsonDocument + GetSingle loop (single thread)
//   grpc-body OUT [MODEL:INPUT:SHAPE]  a gRPC-framed ModelInferRequest (raw contents) for h2load: `simple`, or
//                                one random FP32 input of SHAPE (e.g. resnet18:input:1,3,224,224)
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
    case "peer": Peer(int.Parse(args[1]), args[2], spin: !(args.Length > 3 && args[3] == "nospin")); break;
    case "inproc": InProcess(args[1], int.Parse(args[2]), double.Parse(args[3]), args.Length > 4 ? int.Parse(args[4]) : 1,
        args.Length > 5 ? int.Parse(args[5]) : 0); break;
    case "json-decode": JsonDecode(args[1], int.Parse(args[2])); break;
    case "grpc-body": GrpcBody(args[1], args.Length > 2 ? args[2] : null); break;
    case "batch-gain": BatchGain(args[1], int.Parse(args[2]), int.Parse(args[3]), [.. args[4].Split(',').Select(int.Parse)]); break;
    default: Console.Error.WriteLine("usage: peer PORT MODEL | inproc MODEL_DIR N SECONDS [BATCH] | grpc-body OUT"); return 2;
}
return 0;

static void Peer(int port, string modelPath, bool spin)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
    builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 64 << 20); // resnet18 as JSON is ~1.6 MB
    var app = builder.Build();
    // A session with ONNX Runtime's defaults, as a user writes it; "nospin" turns spin-waiting off as the server does.
    using var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
    if (!spin) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
    using var session = new InferenceSession(modelPath, options);
    var types = session.InputMetadata.ToDictionary(kv => kv.Key, kv => kv.Value.ElementDataType);
    // OIP JSON, and the binary extension when the request carries Inference-Header-Content-Length (what Triton's
    // clients send for images); inputs and outputs INT32 or FP32, which is all `simple` and resnet18 need.
    app.MapPost("/v2/models/{model}/infer", async (HttpContext ctx, string model) =>
    {
        var body = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(body);
        byte[] bytes = body.GetBuffer();
        int length = (int)body.Length;
        bool binary = int.TryParse(ctx.Request.Headers["Inference-Header-Content-Length"], out int headerLength);
        using var doc = JsonDocument.Parse(bytes.AsMemory(0, binary ? headerLength : length));
        var values = new List<OrtValue>();
        var names = new List<string>();
        int offset = headerLength;
        foreach (var input in doc.RootElement.GetProperty("inputs").EnumerateArray())
        {
            string name = input.GetProperty("name").GetString()!;
            var shape = input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var type = types[name];
            var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
            if (binary)
            {
                int size = input.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
                bytes.AsSpan(offset, size).CopyTo(value.GetTensorMutableRawData());
                offset += size;
            }
            else if (type == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
            {
                var dst = value.GetTensorMutableDataAsSpan<float>();
                int i = 0;
                foreach (var e in input.GetProperty("data").EnumerateArray()) dst[i++] = e.GetSingle();
            }
            else
            {
                var dst = value.GetTensorMutableDataAsSpan<int>();
                int i = 0;
                foreach (var e in input.GetProperty("data").EnumerateArray()) dst[i++] = e.GetInt32();
            }
            values.Add(value);
            names.Add(name);
        }
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, names, values, session.OutputNames);
        foreach (var v in values) v.Dispose();
        if (!binary)
        {
            var outputs = session.OutputNames.Select((n, i) =>
            {
                var info = results[i].GetTensorTypeAndShape();
                object data = info.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float
                    ? results[i].GetTensorDataAsSpan<float>().ToArray() : results[i].GetTensorDataAsSpan<int>().ToArray();
                return new { name = n, datatype = info.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float ? "FP32" : "INT32", shape = info.Shape, data };
            }).ToArray();
            return Results.Json(new { model_name = model, model_version = "1", outputs });
        }
        // Binary outputs: a JSON header naming each output's byte size, then the raw bytes.
        var raw = session.OutputNames.Select((n, i) => results[i].GetTensorMutableRawData().ToArray()).ToArray();
        var header = JsonSerializer.SerializeToUtf8Bytes(new
        {
            model_name = model, model_version = "1",
            outputs = session.OutputNames.Select((n, i) => new
            {
                name = n, datatype = results[i].GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float ? "FP32" : "INT32",
                shape = results[i].GetTensorTypeAndShape().Shape, parameters = new { binary_data_size = raw[i].Length },
            }).ToArray(),
        });
        ctx.Response.Headers["Inference-Header-Content-Length"] = header.Length.ToString();
        ctx.Response.ContentType = "application/octet-stream";
        await ctx.Response.Body.WriteAsync(header);
        foreach (var r in raw) await ctx.Response.Body.WriteAsync(r);
        return Results.Empty;
    });
    app.Run();
}

static void InProcess(string modelDir, int workers, double seconds, int batch, int slots)
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
    using var gate = new SemaphoreSlim(slots > 0 ? slots : workers);
    var stop = Stopwatch.StartNew();
    var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
    {
        var mine = latencies[w] = new List<double>(1 << 16);
        while (stop.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            gate.Wait();
            try { backend.Infer(inputs, null); }
            finally { gate.Release(); }
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

static void JsonDecode(string path, int reps)
{
    // The server's parser over the body in one buffer (what the REST endpoint does: it reads the body into a pooled
    // buffer first) and over the same bytes in 4 KB segments (what parsing straight from Kestrel's pipe would see),
    // beside the peer's JsonDocument + GetSingle loop; allocated bytes per decode for the server's.
    byte[] body = File.ReadAllBytes(path);
    var segmented = Segments(body, 4096);
    var server = new List<double>();
    var split = new List<double>();
    var peer = new List<double>();
    long allocated = 0;
    for (int r = 0; r < reps; r++)
    {
        long a0 = GC.GetAllocatedBytesForCurrentThread();
        long t0 = Stopwatch.GetTimestamp();
        using (var rented = new RentedBuffers())
            GC.KeepAlive(OipJson.ParseRequest(body, null, "m", null, rented));
        server.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        allocated = GC.GetAllocatedBytesForCurrentThread() - a0;
        t0 = Stopwatch.GetTimestamp();
        using (var rented = new RentedBuffers())
            GC.KeepAlive(OipJson.ParseRequest(segmented, null, "m", null, rented));
        split.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        t0 = Stopwatch.GetTimestamp();
        using (var doc = JsonDocument.Parse(body))
            foreach (var input in doc.RootElement.GetProperty("inputs").EnumerateArray())
            {
                var dst = new float[input.GetProperty("data").GetArrayLength()];
                int i = 0;
                foreach (var e in input.GetProperty("data").EnumerateArray()) dst[i++] = e.GetSingle();
            }
        peer.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
    }
    double s = Median(server), p = Median(peer);
    Console.WriteLine($"{body.Length} bytes: server OipJson.ParseRequest median {s:F2} ms ({allocated} bytes allocated), " +
        $"same in 4 KB segments {Median(split):F2} ms, peer loop median {p:F2} ms; server / peer time {s / p:F2}");
}

// A body as a chain of fixed-size segments, the way a pipe hands it over.
static System.Buffers.ReadOnlySequence<byte> Segments(byte[] body, int size)
{
    Segment? first = null, last = null;
    for (int i = 0; i < body.Length; i += size)
    {
        var s = new Segment(body.AsMemory(i, Math.Min(size, body.Length - i)), i);
        if (last is null) first = s; else last.SetNext(s);
        last = s;
    }
    return new System.Buffers.ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
}

static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

static void GrpcBody(string path, string? spec)
{
    // Without SPEC: Triton's `simple` (INT32 [1,16] x2). With SPEC "MODEL:INPUT:1,3,224,224": one FP32 input of
    // that shape filled with seeded random values in [0, 1), e.g. an image for resnet18.
    ModelInferRequest r;
    if (spec is null)
    {
        r = new ModelInferRequest { ModelName = "simple" };
        foreach (var name in new[] { "INPUT0", "INPUT1" })
            r.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "INT32", Shape = { 1, 16 } });
        int[] a = [.. Enumerable.Range(0, 16)], b = [.. Enumerable.Repeat(1, 16)];
        r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(a.AsSpan())));
        r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(b.AsSpan())));
    }
    else
    {
        var parts = spec.Split(':');
        long[] shape = [.. parts[2].Split(',').Select(long.Parse)];
        r = new ModelInferRequest { ModelName = parts[0] };
        r.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = parts[1], Datatype = "FP32", Shape = { shape } });
        var rng = new Random(0);
        float[] data = [.. Enumerable.Range(0, (int)InferTensor.ElementCountOf(shape)).Select(_ => rng.NextSingle())];
        r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())));
    }
    var payload = r.ToByteArray();
    var framed = new byte[5 + payload.Length];
    BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), payload.Length);
    payload.CopyTo(framed, 5);
    File.WriteAllBytes(path, framed);
}

sealed class Segment : System.Buffers.ReadOnlySequenceSegment<byte>
{
    public Segment(ReadOnlyMemory<byte> memory, long index) { Memory = memory; RunningIndex = index; }
    public void SetNext(Segment next) => Next = next;
}
