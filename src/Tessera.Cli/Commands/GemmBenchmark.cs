using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tessera.Kernels;

namespace Tessera.Cli.Commands;

/// <summary>One measured GEMM problem.</summary>
internal sealed record GemmBenchResult(string Name, int? Size, int M, int N, int K, string DType, string Trans, int Threads,
    int Repetitions, double MedianMs, double MinMs, double Gflops, double CpuMs);

/// <summary>
/// Times C = op(A)·op(B) (row-major, alpha = 1, beta = 0; no transposes by default) through <see cref="GemmKernel"/>:
/// warm-up runs first, then the median of several timed repetitions.
/// </summary>
internal static class GemmBenchmark
{
    /// <summary>Parses "256,1024" (square sizes) and "64x784x256" (m×n×k) lists into named problems.</summary>
    public static List<(string Name, int? Size, int M, int N, int K)> ParseProblems(string? sizes, string? shapes)
    {
        var list = new List<(string, int?, int, int, int)>();
        foreach (var s in Split(sizes))
        {
            int v = int.Parse(s, CultureInfo.InvariantCulture);
            if (v <= 0) throw new ArgumentException($"Size must be positive: '{s}'.");
            list.Add((s, v, v, v, v));
        }
        foreach (var s in Split(shapes))
        {
            var parts = s.ToLowerInvariant().Split('x');
            if (parts.Length != 3) throw new ArgumentException($"Shape must be MxNxK: '{s}'.");
            int m = int.Parse(parts[0], CultureInfo.InvariantCulture);
            int n = int.Parse(parts[1], CultureInfo.InvariantCulture);
            int k = int.Parse(parts[2], CultureInfo.InvariantCulture);
            if (m <= 0 || n <= 0 || k <= 0) throw new ArgumentException($"Shape dimensions must be positive: '{s}'.");
            list.Add((s, null, m, n, k));
        }
        return list;
    }

    private static IEnumerable<string> Split(string? csv) =>
        (csv ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static GemmBenchResult Run(string name, int? size, int m, int n, int k, int threads, string dtype,
        string trans, int repetitions, double targetSeconds)
    {
        int saved = GemmKernel.MaxThreads;
        GemmKernel.MaxThreads = threads;
        try
        {
            var rng = new Random(12345);
            // trans = "NN", "NT", "TN" or "TT": op(A), op(B); a transposed operand is stored as its transpose.
            bool ta = trans[0] == 'T', tb = trans[1] == 'T';
            int lda = ta ? m : k, ldb = tb ? k : n;
            Action call;
            if (dtype == "float64")
            {
                var a = new double[(long)m * k]; var b = new double[(long)k * n]; var c = new double[(long)m * n];
                for (int i = 0; i < a.Length; i++) a[i] = rng.NextDouble() * 2 - 1;
                for (int i = 0; i < b.Length; i++) b[i] = rng.NextDouble() * 2 - 1;
                call = () => GemmKernel.Dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, n);
            }
            else
            {
                var a = new float[(long)m * k]; var b = new float[(long)k * n]; var c = new float[(long)m * n];
                for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
                for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
                call = () => GemmKernel.Sgemm(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
            }

            // Warm-up: lets tiered JIT reach optimized code and the thread pool and packing buffers settle.
            var sw = Stopwatch.StartNew();
            int warm = 0;
            while (warm < 3 || (sw.Elapsed.TotalSeconds < Math.Min(0.5, targetSeconds) && warm < 200))
            {
                call();
                warm++;
            }
            double oneCall = sw.Elapsed.TotalSeconds / warm;

            int reps = repetitions > 0 ? repetitions : (int)Math.Clamp(targetSeconds / Math.Max(oneCall, 1e-9), 5, 200);
            var times = new double[reps];
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (int r = 0; r < reps; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                call();
                times[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / reps;
            Array.Sort(times);
            double median = reps % 2 == 1 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
            double gflops = 2.0 * m * n * k / (median * 1e-3) / 1e9;
            return new GemmBenchResult(name, size, m, n, k, dtype, trans, threads, reps, median, times[0], gflops, cpuMs);
        }
        finally
        {
            GemmKernel.MaxThreads = saved;
        }
    }

    public static string ToJson(IEnumerable<GemmBenchResult> results)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("impl", "tessera");
                w.WriteString("name", r.Name);
                if (r.Size is int s) w.WriteNumber("size", s); else w.WriteNull("size");
                w.WriteNumber("m", r.M);
                w.WriteNumber("n", r.N);
                w.WriteNumber("k", r.K);
                w.WriteString("dtype", r.DType);
                w.WriteString("trans", r.Trans);
                w.WriteNumber("threads", r.Threads);
                w.WriteNumber("reps", r.Repetitions);
                w.WriteNumber("median_ms", Math.Round(r.MedianMs, 4));
                w.WriteNumber("min_ms", Math.Round(r.MinMs, 4));
                w.WriteNumber("gflops", Math.Round(r.Gflops, 2));
                // Mean process CPU time per call (all threads): gflops_per_cpu_s is robust to time slicing.
                w.WriteNumber("cpu_ms", Math.Round(r.CpuMs, 4));
                w.WriteNumber("gflops_per_cpu_s", Math.Round(2.0 * r.M * r.N * r.K / (r.CpuMs * 1e-3) / 1e9, 2));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static string ToTable(IEnumerable<GemmBenchResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"problem",-16} {"m",6} {"n",6} {"k",6} {"dtype",-8} {"thr",3} {"median ms",10} {"GFLOP/s",9} {"GF/cpu-s",9}");
        foreach (var r in results)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Name,-16} {r.M,6} {r.N,6} {r.K,6} {r.DType,-8} {r.Threads,3} {r.MedianMs,10:F3} {r.Gflops,9:F1} {2.0 * r.M * r.N * r.K / (r.CpuMs * 1e-3) / 1e9,9:F1}");
        return sb.ToString();
    }
}
