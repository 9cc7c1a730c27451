// Native Tessera vs ONNX Runtime on the same ONNX files, same inputs, same process, alternating.
//   dotnet run -c Release --project bench/Tessera.OnnxBench -- MODEL.onnx [--batches 1,32] [--threads 2] [--reps N] [--json]
//   ... MODEL.onnx --profile [--batches 1] [--reps N]   per-op time of the native executor (see Profile.cs)
//   ... MODEL.onnx --layers [--batches 1] [--threads 2] [--reps N]   per-convolution time, native beside ORT's profiler (NodeCompare.cs)
//   ... --unfused   also times the native engine without inference fusion (OnnxModel.Load(path, fuse: false)),
//                   alternating with the other two, to measure what fusion buys under the same load
//   ... --dynamic N fills the input's dynamic dimensions other than the batch with N (default 1), e.g. the
//                   sequence length of a transformer exported with a dynamic sequence axis
//   ... --ab        also times the native engine without weight prefetching and L1-sized chunks (NchwcConv knobs)
//   ... --im2col    also times the native engine fused but without the channel-blocked layout
//                   (OnnxModel.Load(path, blockedLayout: false): im2col + GEMM convolutions)
// Prints per batch: median latency of each engine (after warm-up), the ratio native/ORT, and the largest
// relative difference of the outputs (max |native − ort| / max |ort|).
using System.Diagnostics;
using System.Text.Json;
using Tessera;
using Tessera.Kernels;
using Tessera.Onnx;
using Tessera.OnnxRuntime;

var path = args[0];
int[] batches = [1, 32];
int threads = 2, reps = 0, dynamic = 1;
const double WarmupSeconds = 3;   // least wall time spent warming up both engines before timing
bool layers = false, withAb = false;
bool json = false, profile = false, withUnfused = false, withIm2col = false;
for (int i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--batches": batches = [.. args[++i].Split(',').Select(int.Parse)]; break;
        case "--threads": threads = int.Parse(args[++i]); break;
        case "--reps": reps = int.Parse(args[++i]); break;
        case "--dynamic": dynamic = int.Parse(args[++i]); break;
        case "--json": json = true; break;
        case "--profile": profile = true; break;
        case "--layers": layers = true; break;
        case "--unfused": withUnfused = true; break;
        case "--im2col": withIm2col = true; break;
        case "--ab": withAb = true; break;
    }
}
GemmKernel.MaxThreads = threads;
if (layers)
{
    foreach (int batch in batches) NodeCompare.Run(path, batch, threads, reps > 0 ? reps : 50);
    return 0;
}
if (profile)
{
    foreach (int batch in batches) OpProfile.Run(path, batch, dynamic, reps > 0 ? reps : batch == 1 ? 20 : 3);
    return 0;
}
using var native = OnnxModel.Load(path);
using var ort = OrtModel.Load(path, threads);
using var unfused = withUnfused ? OnnxModel.Load(path, fuse: false) : null;
using var im2col = withIm2col ? OnnxModel.Load(path, blockedLayout: false) : null;
var input = native.Inputs[0];
var rows = new List<Dictionary<string, object>>();
foreach (int batch in batches)
{
    var shape = OpProfile.InputShape(input.Shape, batch, dynamic);
    var x = Tensor.RandomNormal(42, DType.Float32, 0, 1, shape);
    var feed = new Dictionary<string, Tensor> { [input.Name] = x };
    var yn = native.Run(feed)[native.Outputs[0].Name];
    var yo = ort.Run(feed)[ort.Outputs[0].Name];
    double maxDiff = 0, maxRef = 0;
    var a = yn.ToArray<float>(); var b = yo.ToArray<float>();
    for (int i = 0; i < a.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(a[i] - b[i])); maxRef = Math.Max(maxRef, Math.Abs(b[i])); }
    int n = reps > 0 ? reps : batch == 1 ? 30 : 5;
    // Warm-up until the JIT has settled (tiered compilation promotes hot kernels in the background for about a
    // second of runs; timing earlier measures tier-0 code, not steady state), then alternate engines so both see
    // the same machine load.
    var warm = Stopwatch.StartNew();
    for (int w = 0; w < 3 || warm.Elapsed.TotalSeconds < WarmupSeconds; w++) { native.Run(feed); ort.Run(feed); unfused?.Run(feed); im2col?.Run(feed); }
    var tn = new List<double>(); var to = new List<double>(); var tu = new List<double>(); var ti = new List<double>(); var ta = new List<double>();
    // Engines are timed in alternating blocks of runs with a pause between blocks, not run by run: ONNX Runtime's
    // worker threads spin-wait for a while after each Run and would take a core from whichever engine runs next
    // (measured: resnet18 batch 1 native 38 ms right after ORT runs, 29 ms on its own).
    const int Block = 5;
    for (int r0 = 0; r0 < n; r0 += Block)
    {
        int cnt = Math.Min(Block, n - r0);
        TimeBlock(() => native.Run(feed), cnt, tn);
        TimeBlock(() => ort.Run(feed), cnt, to);
        if (unfused is not null) TimeBlock(() => unfused.Run(feed), cnt, tu);
        if (im2col is not null) TimeBlock(() => im2col.Run(feed), cnt, ti);
        if (withAb)
        {
            // The same native model without this branch's weight prefetching and L1-sized chunks for small jobs.
            Tessera.Kernels.NchwcConv.PrefetchWeights = false;
            Tessera.Kernels.NchwcConv.L1ChunkBytes = 0;
            TimeBlock(() => native.Run(feed), cnt, ta);
            Tessera.Kernels.NchwcConv.PrefetchWeights = true;
            Tessera.Kernels.NchwcConv.L1ChunkBytes = 40 * 1024;
        }
    }
    double mn = Median(tn), mo = Median(to);
    var row = new Dictionary<string, object> { ["model"] = Path.GetFileNameWithoutExtension(path), ["batch"] = batch, ["threads"] = threads, ["native_ms"] = Math.Round(mn, 2),
        ["ort_ms"] = Math.Round(mo, 2), ["ratio"] = Math.Round(mn / mo, 2), ["max_rel_diff"] = maxDiff / Math.Max(maxRef, 1e-30), ["reps"] = n };
    if (unfused is not null) row["unfused_ms"] = Math.Round(Median(tu), 2);
    if (im2col is not null) row["im2col_ms"] = Math.Round(Median(ti), 2);
    rows.Add(row);
    if (!json) Console.WriteLine($"{Path.GetFileName(path)} batch {batch}: native {mn:F2} ms, ORT {mo:F2} ms, ratio {mn / mo:F2}, max rel diff {maxDiff / maxRef:E2}"
        + (unfused is null ? "" : $"; unfused native {Median(tu):F2} ms (fused/unfused {mn / Median(tu):F2})")
        + (im2col is null ? "" : $"; im2col native {Median(ti):F2} ms (blocked/im2col {mn / Median(ti):F2})")
        + (!withAb ? "" : $"; without prefetch/L1 chunks {Median(ta):F2} ms (ratio to ORT {Median(ta) / mo:F2}; with/without {mn / Median(ta):F2})"));
}
if (json) Console.WriteLine(JsonSerializer.Serialize(rows));
return 0;

static void TimeBlock(Action run, int count, List<double> times)
{
    Thread.Sleep(50);   // let the other engine's spinning workers go to sleep
    run();              // one untimed run to bring this engine's weights back into cache
    for (int i = 0; i < count; i++) { var sw = Stopwatch.StartNew(); run(); times.Add(sw.Elapsed.TotalMilliseconds); }
}

static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
