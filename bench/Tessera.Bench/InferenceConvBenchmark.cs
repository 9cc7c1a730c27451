using Tessera.Kernels;

namespace Tessera.Bench;

/// <summary>
/// resnet18's convolution layers at inference (batch 1 by default, constant weights packed once, bias + ReLU
/// epilogue), each beside a plain GEMM of the same m×n×k on contiguous operands, in GFLOP/s: how far each layer
/// is from what the GEMM alone does, and which layers carry the model's time.
///   Tessera.Bench convinfer [BATCH]
/// </summary>
internal static class InferenceConvBenchmark
{
    public static int Run(string[] args)
    {
        int n = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        Console.WriteLine($"layer (count)                 conv ms  GFLOP/s   GEMM ms  GFLOP/s  nchwc ms  GFLOP/s  GFLOP/cpu-s  +reorders ms   m×n×k; {Environment.ProcessorCount} threads, batch {n}");
        double total = 0;
        total += Layer("conv1 7x7/2 3->64 (1)", 1, new Conv2dGeometry(n, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 3, 3));
        total += Layer("l1 3x3 64->64 (4)", 4, new Conv2dGeometry(n, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1));
        total += Layer("l2 3x3/2 64->128 (1)", 1, new Conv2dGeometry(n, 64, 56, 56, 128, 3, 3, 2, 2, 1, 1, 1, 1));
        total += Layer("l2 3x3 128 (3)", 3, new Conv2dGeometry(n, 128, 28, 28, 128, 3, 3, 1, 1, 1, 1, 1, 1));
        total += Layer("l2 1x1/2 64->128 (1)", 1, new Conv2dGeometry(n, 64, 56, 56, 128, 1, 1, 2, 2));
        total += Layer("l3 3x3/2 128->256 (1)", 1, new Conv2dGeometry(n, 128, 28, 28, 256, 3, 3, 2, 2, 1, 1, 1, 1));
        total += Layer("l3 3x3 256 (3)", 3, new Conv2dGeometry(n, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1));
        total += Layer("l3 1x1/2 128->256 (1)", 1, new Conv2dGeometry(n, 128, 28, 28, 256, 1, 1, 2, 2));
        total += Layer("l4 3x3/2 256->512 (1)", 1, new Conv2dGeometry(n, 256, 14, 14, 512, 3, 3, 2, 2, 1, 1, 1, 1));
        total += Layer("l4 3x3 512 (3)", 3, new Conv2dGeometry(n, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1));
        total += Layer("l4 1x1/2 256->512 (1)", 1, new Conv2dGeometry(n, 256, 14, 14, 512, 1, 1, 2, 2));
        Console.WriteLine($"sum over resnet18's layers: im2col conv {Totals[0]:F2} ms, GEMM alone {Totals[1]:F2}, NCHWc {Totals[2]:F2}, NCHWc with reorders {Totals[3]:F2}");
        return 0;
    }

    private static readonly double[] Totals = new double[4];

    private static float[] Random(long count, int seed)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (long i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    private static double Layer(string name, int count, Conv2dGeometry g)
    {
        int p = g.OutH * g.OutW, crs = g.C * g.R * g.S;
        var x = Random((long)g.N * g.C * g.H * g.W, 1);
        var w = Random((long)g.K * crs, 2);
        var b = Random(g.K, 3);
        var y = new float[(long)g.N * g.K * p];
        var packed = Conv2dKernel.PackWeights<float>(g, w);
        var col = Random((long)crs * g.N * p, 4);
        var o = new float[(long)g.K * g.N * p];
        var pa = GemmKernel.PackA(false, g.K, crs, w, crs);
        double conv = Timing.MedianMs(() => Conv2dKernel.Forward<float>(g, x, w, b, default, ConvEpilogue.Relu, y, packed), 21, 20);
        double gemm = Timing.MedianMs(() => GemmKernel.SgemmPacked(pa, false, g.N * p, 1f, col, g.N * p, 0f, o, g.N * p), 21, 20);
        double flop = 2.0 * g.K * crs * p * g.N;
        var nw = new NchwcWeights(g.K, g.C, g.R, g.S, w, b, g.C > NchwcConv.MaxPlainInputChannels);
        var xb = new float[(long)g.N * NchwcConv.Blocks(g.C) * g.H * g.W * 16];
        var yb = new float[(long)g.N * NchwcConv.Blocks(g.K) * p * 16];
        double direct, withReorders, directCpu;
        unsafe
        {
            fixed (float* px = nw.BlockedInput ? xb : x, py = yb)
            {
                nint ax = (nint)px, ay = (nint)py;
                direct = Timing.MedianMs(() => NchwcConv.Forward(g, nw, (float*)ax, null, ConvEpilogue.Relu, (float*)ay), 21, 20);
                // Process CPU time per call: steadier than wall time on a shared machine (with
                // DOTNET_PROCESSOR_COUNT=1 it is the kernel's own single-thread cost).
                var proc = System.Diagnostics.Process.GetCurrentProcess();
                var cpu0 = proc.TotalProcessorTime;
                for (int i = 0; i < 21; i++) NchwcConv.Forward(g, nw, (float*)ax, null, ConvEpilogue.Relu, (float*)ay);
                proc.Refresh();
                directCpu = (proc.TotalProcessorTime - cpu0).TotalMilliseconds / 21;
            }
        }
        withReorders = Timing.MedianMs(() => NchwcConv.ForwardNchw(g, nw, x, default, ConvEpilogue.Relu, y), 21, 20);
        Console.WriteLine($"{name,-28} {conv,8:F3} {flop / conv / 1e6,8:F0}  {gemm,8:F3} {flop / gemm / 1e6,8:F0}  {direct,8:F3} {flop / direct / 1e6,8:F0} {flop / directCpu / 1e6,8:F0} {withReorders,8:F3}   {g.K}×{g.N * p}×{crs}");
        Totals[0] += conv * count; Totals[1] += gemm * count; Totals[2] += direct * count; Totals[3] += withReorders * count;
        return conv * count;
    }
}
