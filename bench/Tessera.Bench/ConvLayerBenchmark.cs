using Tessera.Kernels;

namespace Tessera.Bench;

/// <summary>
/// The Fashion-MNIST CNN's layers kernel by kernel (batch 64): Conv2dKernel forward / backward data / backward
/// weight / backward bias, max-pool forward and backward, each beside the time of the GEMM calls alone that the
/// im2col strategy makes for the same layer (chunks of images as Conv2dKernel lays them side by side), so the
/// difference is im2col / col2im / gather / scatter / bias / threading overhead.
///   Tessera.Bench conv [BATCH]     (DOTNET_PROCESSOR_COUNT=1 for single-thread CPU times)
/// </summary>
internal static class ConvLayerBenchmark
{
    public static int Run(string[] args)
    {
        int n = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 64;
        // With DOTNET_PROCESSOR_COUNT=1 everything runs on one thread and the CPU column is the work itself.
        Console.WriteLine($"kernel                      wall ms   cpu ms   GEMM wall / cpu ms   GEMM calls (m×n×k trans); {Environment.ProcessorCount} threads");
        Layer("conv1", new Conv2dGeometry(n, 1, 28, 28, 32, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1));
        Layer("conv2", new Conv2dGeometry(n, 32, 14, 14, 64, 3, 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1));
        Pool("pool1", new Conv2dGeometry(n, 32, 28, 28, 32, 2, 2, StrideH: 2, StrideW: 2));
        Pool("pool2", new Conv2dGeometry(n, 64, 14, 14, 64, 2, 2, StrideH: 2, StrideW: 2));
        return 0;
    }

    private static float[] Random(long count, int seed)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static void Layer(string name, Conv2dGeometry g)
    {
        int p = g.OutH * g.OutW, crs = g.C * g.R * g.S;
        var x = Random((long)g.N * g.C * g.H * g.W, 1);
        var w = Random((long)g.K * crs, 2);
        var b = Random(g.K, 3);
        var y = new float[(long)g.N * g.K * p];
        var dy = Random(y.Length, 4);
        var dx = new float[x.Length];
        var dw = new float[w.Length];
        var db = new float[g.K];
        // Conv2dKernel's chunking: as many images per column matrix as fit 2^19 elements.
        int nb = (int)Math.Clamp((1L << 19) / ((long)crs * p), 1, g.N);
        var chunks = new List<int>();
        for (int n0 = 0; n0 < g.N; n0 += nb) chunks.Add(Math.Min(nb, g.N - n0));
        var col = new float[(long)crs * nb * p];
        var o = new float[(long)g.K * nb * p];
        string Shapes(string t, Func<int, (int M, int N, int K)> shape) =>
            string.Join(", ", chunks.GroupBy(c => c).Select(grp => { var s = shape(grp.Key); return $"{grp.Count()}× {s.M}×{s.N}×{s.K} {t}"; }));

        Row($"{name} forward", Time(() => Conv2dKernel.Forward<float>(g, x, w, b, y), 15),
            Time(() => { foreach (int c in chunks) GemmKernel.Sgemm(false, false, g.K, c * p, crs, 1f, w, crs, col, c * p, 0f, o, c * p); }, 15),
            Shapes("NN", c => (g.K, c * p, crs)));
        Row($"{name} backward data", Time(() => Conv2dKernel.BackwardData<float>(g, dy, w, dx), 15),
            Time(() => { foreach (int c in chunks) GemmKernel.Sgemm(true, false, crs, c * p, g.K, 1f, w, crs, o, c * p, 0f, col, c * p); }, 15),
            Shapes("TN", c => (crs, c * p, g.K)));
        Row($"{name} backward weight", Time(() => Conv2dKernel.BackwardWeight<float>(g, x, dy, dw), 15),
            Time(() => { foreach (int c in chunks) GemmKernel.Sgemm(false, true, g.K, crs, c * p, 1f, o, c * p, col, c * p, 1f, dw, crs); }, 15),
            Shapes("NT", c => (g.K, crs, c * p)));
        Row($"{name} backward bias", Time(() => Conv2dKernel.BackwardBias<float>(g, dy, db), 15), None, "");
    }

    private static void Pool(string name, Conv2dGeometry g)
    {
        var x = Random((long)g.N * g.C * g.H * g.W, 5);
        var y = new float[(long)g.N * g.C * g.OutH * g.OutW];
        var dy = Random(y.Length, 6);
        var dx = new float[x.Length];
        Row($"{name} max forward", Time(() => Pool2dKernel.MaxForward<float>(g, x, y), 15), None, "");
        Row($"{name} max backward", Time(() => Pool2dKernel.MaxBackward<float>(g, x, dy, dx), 15), None, "");
    }

    /// <summary>Median wall ms and mean process CPU ms per call (CPU time is steadier on a shared machine).</summary>
    private static (double Wall, double Cpu) Time(Action body, int reps)
    {
        // At least 40 warm-up calls: tiered JIT optimizes a method after ~30 calls, more than 0.5 s holds under load.
        double wall = Timing.MedianMs(body, reps, warmup: 40);
        var proc = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = proc.TotalProcessorTime;
        for (int i = 0; i < reps; i++) body();
        proc.Refresh();
        return (wall, (proc.TotalProcessorTime - cpu0).TotalMilliseconds / reps);
    }

    private static void Row(string what, (double Wall, double Cpu) t, (double Wall, double Cpu) gemm, string shapes) =>
        Console.WriteLine($"{what,-26} {t.Wall,8:F3} {t.Cpu,8:F3}  {(double.IsNaN(gemm.Wall) ? "" : $"{gemm.Wall,8:F3} {gemm.Cpu,8:F3}"),17}   {shapes}");

    private static readonly (double, double) None = (double.NaN, double.NaN);
}
