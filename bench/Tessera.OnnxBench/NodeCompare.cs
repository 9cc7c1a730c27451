using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

using Tessera.Onnx;

/// <summary>
/// Native convolution steps beside ONNX Runtime's Conv nodes, both in model order (the k-th native convolution is the
/// k-th ORT Conv/FusedConv): per-layer ms per run from the native step profile and ORT's own profiler (kernel time of
/// each node), run in alternating blocks so both see the same machine load.
///   Tessera.OnnxBench MODEL.onnx --layers [--batches 1] [--threads 2] [--reps N]
/// </summary>
static class NodeCompare
{
    public static void Run(string path, int batch, int threads, int runs)
    {
        using var native = OnnxModel.Load(path);
        var input = native.Inputs[0];
        var shape = input.Shape.Select((d, i) => d < 0 ? (i == 0 ? batch : 1) : d).ToArray();
        shape[0] = batch;
        var x = Tessera.Tensor.RandomNormal(42, Tessera.DType.Float32, 0, 1, shape);
        var feed = new Dictionary<string, Tessera.Tensor> { [input.Name] = x };

        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, EnableProfiling = true,
            ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "tessera-ort-profile") };
        using var session = new InferenceSession(path, options);
        var data = x.ToArray<float>();
        var ortInput = new DenseTensor(data, shape);
        var inputs = new[] { NamedOnnxValue.CreateFromTensor<float>(session.InputMetadata.Keys.First(), ortInput) };
        void RunOrt() { using var r = session.Run(inputs); }

        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 3) { native.Run(feed); RunOrt(); }
        // Alternate blocks: native steps profiled in blocks of 5 runs, ORT runs between them (all ORT runs are profiled).
        var nativeSteps = new Dictionary<int, (string Op, int[] Shape, double Seconds)>();
        int ortRuns = 0;
        for (int r = 0; r < runs; r += 5)
        {
            Thread.Sleep(50);
            var steps = native.ProfileSteps(feed, 5);
            for (int i = 0; i < steps.Count; i++)
                nativeSteps[i] = nativeSteps.TryGetValue(i, out var acc) ? (acc.Op, acc.Shape, acc.Seconds + steps[i].Seconds) : steps[i];
            Thread.Sleep(50);
            for (int k = 0; k < 5; k++) { RunOrt(); ortRuns++; }
        }
        int nativeRuns = (runs + 4) / 5 * 5;
        string file = session.EndProfiling();
        // Warm-up runs were profiled too: keep each node's last ortRuns kernel times.
        var ortNodes = new List<string>();
        var ortTimes = new Dictionary<string, List<double>>();
        foreach (var e in JsonDocument.Parse(File.ReadAllText(file)).RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node") continue;
            string name = e.GetProperty("name").GetString()!;
            if (!name.EndsWith("_kernel_time")) continue;
            string op = e.GetProperty("args").GetProperty("op_name").GetString()!;
            string key = $"{op}:{name[..^"_kernel_time".Length]}";
            if (!ortTimes.TryGetValue(key, out var list)) { ortNodes.Add(key); ortTimes[key] = list = []; }
            list.Add(e.GetProperty("dur").GetDouble() / 1e3);
        }
        File.Delete(file);
        var ortConvs = ortNodes.Where(k => k.StartsWith("Conv:") || k.StartsWith("FusedConv:")).ToList();
        var nativeConvs = nativeSteps.OrderBy(kv => kv.Key).Select(kv => kv.Value).Where(s => s.Op.Contains("Conv")).ToList();
        double Ort(string key) => ortTimes[key].TakeLast(ortRuns).Sum() / ortRuns;
        Console.WriteLine($"{Path.GetFileName(path)} batch {batch}, {threads} threads, {nativeRuns} native / {ortRuns} ORT runs; ms per run");
        Console.WriteLine($"{"#",3} {"native op",-24} {"output",-18} {"native",8} {"ORT",8} {"ratio",6}  ORT node");
        double sn = 0, so = 0;
        for (int i = 0; i < Math.Max(ortConvs.Count, nativeConvs.Count); i++)
        {
            double n = i < nativeConvs.Count ? nativeConvs[i].Seconds * 1e3 / nativeRuns : 0, o = i < ortConvs.Count ? Ort(ortConvs[i]) : 0;
            sn += n; so += o;
            string op = i < nativeConvs.Count ? nativeConvs[i].Op : "", sh = i < nativeConvs.Count ? string.Join("x", nativeConvs[i].Shape) : "";
            Console.WriteLine($"{i,3} {op,-24} {sh,-18} {n,8:F3} {o,8:F3} {n / o,6:F2}  {(i < ortConvs.Count ? ortConvs[i] : "")}");
        }
        double totalNative = nativeSteps.Values.Sum(s => s.Seconds) * 1e3 / nativeRuns, totalOrt = ortNodes.Sum(Ort);
        Console.WriteLine($"convolutions: native {sn:F3} ms, ORT {so:F3} ms ({sn / so:F2}); all steps/nodes: native {totalNative:F3}, ORT {totalOrt:F3} ({totalNative / totalOrt:F2})");
        foreach (var k in ortNodes.Where(k => !ortConvs.Contains(k))) Console.WriteLine($"    ORT other {k}: {Ort(k):F3}");
        foreach (var s in nativeSteps.Values.Where(s => !s.Op.Contains("Conv"))) Console.WriteLine($"    native other {s.Op}: {s.Seconds * 1e3 / nativeRuns:F3}");
    }
}
