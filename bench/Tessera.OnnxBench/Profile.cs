using Tessera;
using Tessera.Onnx;

/// <summary>
/// Per-op-type time of native runs through <see cref="OnnxModel.Profile"/>: the executor's own plan (fusions,
/// buffer reuse, threads), after a warm-up run, so the figures add up to what <see cref="OnnxModel.Run"/> costs.
/// Also reports the wall time and managed bytes allocated per un-profiled run.
/// </summary>
static class OpProfile
{
    /// <summary>The first input's shape: <paramref name="batch"/> first, other dynamic dimensions <paramref name="dynamic"/>.</summary>
    public static int[] InputShape(IReadOnlyList<int> declared, int batch, int dynamic)
    {
        var shape = declared.Select(d => d < 0 ? dynamic : d).ToArray();
        shape[0] = batch;
        return shape;
    }

    public static void Run(string path, int batch, int dynamic, int runs)
    {
        using var model = OnnxModel.Load(path);
        var input = model.Inputs[0];
        var shape = InputShape(input.Shape, batch, dynamic);
        var feed = new Dictionary<string, Tensor> { [input.Name] = Tensor.RandomNormal(1, DType.Float32, 0, 1, shape) };
        // Same warm-up as the latency benchmark: let tiered compilation finish promoting the kernels.
        var warm = System.Diagnostics.Stopwatch.StartNew();
        for (int w = 0; w < 3 || warm.Elapsed.TotalSeconds < 3; w++) model.Run(feed);

        long bytes0 = GC.GetTotalAllocatedBytes(true);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int r = 0; r < runs; r++) model.Run(feed);
        double runMs = sw.Elapsed.TotalMilliseconds / runs;
        long bytesPerRun = (GC.GetTotalAllocatedBytes(true) - bytes0) / runs;

        var profile = model.Profile(feed, runs);
        double total = profile.Values.Sum(v => v.Seconds) * 1e3 / runs;
        Console.WriteLine($"{Path.GetFileName(path)} input ({string.Join(", ", shape)}): {runMs:F2} ms/run, {bytesPerRun:N0} B allocated/run; per-op ms/run (sum {total:F2}):");
        foreach (var (k, v) in profile.OrderByDescending(kv => kv.Value.Seconds))
            Console.WriteLine($"  {k,-22} {v.Seconds * 1e3 / runs,8:F2} ms  {100 * v.Seconds * 1e3 / runs / total,5:F1}%  x{v.Calls / runs}");
    }
}
