using System.Diagnostics;
using Tessera.Kernels;

namespace Tessera.Bench;

/// <summary>
/// resnet18's convolutions in model order through <see cref="NchwcConv"/>, each with its own packed weights (46 MB in
/// all, so as in the model each layer's weights come from memory, not from a cache the previous call warmed), timed
/// per layer. Several kernel settings run in alternating passes in one process, so their per-layer ratios share the
/// machine's load:
///   Tessera.Bench convseq [BATCH] [PASSES] VARIANT...   (VARIANT: base | chunk=KIB | split=pixels|filters|auto)
/// </summary>
internal static class ConvSequenceBenchmark
{
    private sealed record Layer(string Name, Conv2dGeometry G, NchwcWeights W, float[] X, float[] Y);

    public static int Run(string[] args)
    {
        int n = args.Length > 1 ? int.Parse(args[1]) : 1;
        int passes = args.Length > 2 ? int.Parse(args[2]) : 30;
        string[] variants = args.Length > 3 ? args[3..] : ["base"];
        var layers = Build(n);
        // CONVSEQ_ONLY=l4.1 runs only the layers whose names contain it (weights then stay in the caches they fit).
        if (Environment.GetEnvironmentVariable("CONVSEQ_ONLY") is { Length: > 0 } only) layers = layers.FindAll(l => l.Name.Contains(only));
        var times = new double[variants.Length, layers.Count][];
        for (int v = 0; v < variants.Length; v++)
            for (int l = 0; l < layers.Count; l++) times[v, l] = new double[passes];
        for (int warm = 0; warm < 5; warm++)
            foreach (var v in variants) { Apply(v); RunAll(layers, null); }
        // CONVSEQ_PAIRED=1: each layer runs once per variant back to back, the caches flushed by a 64 MB sweep before
        // each call (as the model's other layers would), so a variant's ratio compares calls milliseconds apart.
        bool paired = Environment.GetEnvironmentVariable("CONVSEQ_PAIRED") == "1";
        var sweep = paired ? new float[16 << 20] : [];
        for (int p = 0; p < passes; p++)
        {
            if (paired)
            {
                for (int l = 0; l < layers.Count; l++)
                    for (int v = 0; v < variants.Length; v++)
                    {
                        int vv = (v + p) % variants.Length;   // rotate who goes first
                        Apply(variants[vv]);
                        Sweep(sweep);
                        var t = new double[1];
                        RunAll(layers.GetRange(l, 1), t);
                        times[vv, l][p] = t[0];
                    }
                continue;
            }
            for (int v = 0; v < variants.Length; v++)
            {
                Apply(variants[v]);
                var t = new double[layers.Count];
                RunAll(layers, t);
                for (int l = 0; l < layers.Count; l++) times[v, l][p] = t[l];
                Thread.Sleep(20);
            }
        }
        Apply("base");
        Console.WriteLine(CpuTime ? "thread CPU time (one thread)" : $"wall time, {Environment.ProcessorCount} threads");
        Console.Write($"{"layer",-26}");
        foreach (var v in variants) Console.Write($" {v,14} GF/s");
        Console.WriteLine(variants.Length > 1 ? "   ratio to first (20th-percentile ms)" : "");
        var totals = new double[variants.Length];
        for (int l = 0; l < layers.Count; l++)
        {
            var g = layers[l].G;
            double flop = 2.0 * g.N * g.K * g.C * g.R * g.S * g.OutH * g.OutW;
            Console.Write($"{layers[l].Name,-26}");
            var med = new double[variants.Length];
            for (int v = 0; v < variants.Length; v++)
            {
                med[v] = Median(times[v, l]);
                totals[v] += med[v];
                Console.Write($" {med[v],14:F3} {flop / med[v] / 1e6,4:F0}");
            }
            for (int v = 1; v < variants.Length; v++) Console.Write($"  {med[v] / med[0]:F3}");
            if (paired)
            {
                Console.Write("   paired median ratios:");
                for (int v = 1; v < variants.Length; v++)
                    Console.Write($" {Percentile(times[v, l].Zip(times[0, l], (a, b) => a / b).ToArray(), 0.5):F3}");
            }
            Console.WriteLine();
        }
        Console.Write($"{"sum",-26}");
        foreach (var t in totals) Console.Write($" {t,14:F3}     ");
        for (int v = 1; v < variants.Length; v++) Console.Write($"  {totals[v] / totals[0]:F3}");
        Console.WriteLine();
        return 0;
    }

    private static void Sweep(float[] a)
    {
        float s = 0;
        for (int i = 0; i < a.Length; i += 16) { s += a[i]; a[i] = s * 1e-30f; }
    }

    private static double Percentile(double[] a, double q)
    {
        var s = (double[])a.Clone();
        Array.Sort(s);
        return s[(int)(q * (s.Length - 1))];
    }

    // The 20th percentile: interference on a shared machine only adds time, and the very minimum is one lucky run.
    private static double Median(double[] a)
    {
        var s = (double[])a.Clone();
        Array.Sort(s);
        return s[s.Length / 5];
    }

    private static void Apply(string variant)
    {
        NchwcConv.WeightChunkBytes = 128 * 1024;
        NchwcConv.Split = NchwcSplit.Auto;
        NchwcConv.PrefetchWeights = true;
        NchwcConv.L1ChunkBytes = 40 * 1024;
        foreach (var part in variant.Split('+'))
        {
            var kv = part.Split('=');
            switch (kv[0])
            {
                case "base": break;
                case "l1chunk": NchwcConv.L1ChunkBytes = long.Parse(kv[1]) * 1024; break;
                case "noprefetch": NchwcConv.PrefetchWeights = false; break;
                case "chunk": NchwcConv.WeightChunkBytes = long.Parse(kv[1]) * 1024; break;
                case "split": NchwcConv.Split = Enum.Parse<NchwcSplit>(kv[1], ignoreCase: true); break;
                default: throw new ArgumentException($"unknown variant {part}");
            }
        }
    }

    private static unsafe void RunAll(List<Layer> layers, double[]? t)
    {
        foreach (var (l, i) in layers.Select((l, i) => (l, i)))
        {
            long t0 = Stopwatch.GetTimestamp();
            long c0 = ThreadCpuNs();
            fixed (float* x = l.X, y = l.Y)
                if (l.Name.StartsWith("maxpool")) NchwcPool.MaxForward(l.G, x, y);
                else NchwcConv.Forward(l.G, l.W, x, null, ConvEpilogue.Relu, y);
            // One thread (DOTNET_PROCESSOR_COUNT=1): the calling thread's CPU time is the kernel's, which a loaded
            // machine's preemptions do not inflate.
            if (t != null) t[i] = CpuTime ? (ThreadCpuNs() - c0) / 1e6 : Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
    }

    private static readonly bool CpuTime = Environment.ProcessorCount == 1;

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);

    private struct Timespec { public long Sec, Nsec; }

    private static long ThreadCpuNs()
    {
        clock_gettime(3, out var ts);   // CLOCK_THREAD_CPUTIME_ID
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }

    private static List<Layer> Build(int n)
    {
        var list = new List<Layer>();
        int seed = 1;
        void Add(string name, Conv2dGeometry g)
        {
            var rng = new Random(seed++);
            var w = new float[(long)g.K * g.C * g.R * g.S];
            for (long i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
            var b = new float[g.K];
            bool blocked = g.C > NchwcConv.MaxPlainInputChannels;
            var x = new float[blocked ? (long)g.N * NchwcConv.Blocks(g.C) * g.H * g.W * 16 : (long)g.N * g.C * g.H * g.W];
            for (long i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
            var y = new float[(long)g.N * NchwcConv.Blocks(g.K) * g.OutH * g.OutW * 16];
            // The pool reads what the stem wrote (in the model it finds it in cache).
            if (name.StartsWith("maxpool")) x = list[^1].Y;
            list.Add(new Layer(name, g, new NchwcWeights(g.K, g.C, g.R, g.S, w, b, blocked), x, y));
        }
        Add("conv1 7x7/2 3-64 112", new Conv2dGeometry(n, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 3, 3));
        Add("maxpool 3x3/2 64 56", new Conv2dGeometry(n, 64, 112, 112, 64, 3, 3, 2, 2, 1, 1, 1, 1));
        for (int i = 0; i < 4; i++) Add($"l1.{i} 3x3 64 56", new Conv2dGeometry(n, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1));
        int c = 64, hw = 56;
        foreach (var stage in new[] { 2, 3, 4 })
        {
            int k = c * 2, o = hw / 2;
            Add($"l{stage}.0 3x3/2 {c}-{k} {o}", new Conv2dGeometry(n, c, hw, hw, k, 3, 3, 2, 2, 1, 1, 1, 1));
            Add($"l{stage}.1 3x3 {k} {o}", new Conv2dGeometry(n, k, o, o, k, 3, 3, 1, 1, 1, 1, 1, 1));
            Add($"l{stage}.d 1x1/2 {c}-{k} {o}", new Conv2dGeometry(n, c, hw, hw, k, 1, 1, 2, 2));
            Add($"l{stage}.2 3x3 {k} {o}", new Conv2dGeometry(n, k, o, o, k, 3, 3, 1, 1, 1, 1, 1, 1));
            Add($"l{stage}.3 3x3 {k} {o}", new Conv2dGeometry(n, k, o, o, k, 3, 3, 1, 1, 1, 1, 1, 1));
            (c, hw) = (k, o);
        }
        // CONVSEQ_EXTRA="C,K,HW;..." appends 3×3 pad-1 layers of those sizes (named "x ...").
        foreach (var e in (Environment.GetEnvironmentVariable("CONVSEQ_EXTRA") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var v = e.Split(',').Select(int.Parse).ToArray();
            Add($"x {v[0]}-{v[1]} {v[2]}", new Conv2dGeometry(n, v[0], v[2], v[2], v[1], 3, 3, 1, 1, 1, 1, 1, 1));
        }
        return list;
    }
}
