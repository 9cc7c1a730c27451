using System.Diagnostics;
using System.Globalization;
using Tessera.Data;
using Tessera.Nn;

namespace Tessera.Bench;

/// <summary>
/// Where a training step's time goes: runs STEPS batches twice (the first pass warms the JIT and the buffer pool),
/// then prints the second pass per phase (data wait, forward, backward, optimizer, metrics), per op (forward and
/// backward separately) and the bytes allocated per step after warm-up, on the training thread and on all threads.
///   Tessera.Bench profile mlp|cnn [BATCH] [STEPS] [DIR]
/// </summary>
internal static class TrainingProfile
{
    public static int Run(string[] args)
    {
        string model = args.Length > 1 ? args[1] : "cnn";
        int batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        int steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 200;
        string dir = args.Length > 4 ? args[4] : "/usr/share/datasets/fashion-mnist";
        var (train, _) = IdxReader.ReadMnistDirectory(dir);
        NetworkConfig net = model == "cnn"
            ? new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(32), new ConvLayerConfig(64)], [128], 10)
            : new ModelConfig(784, [256, 128], 10, "relu");
        var data = train.WithSampleShape(net.SampleShape).Take(batch * steps);

        using var trainer = new Trainer(new TrainingConfig(net, batchSize: batch, seed: 1, epochs: 2));
        trainer.TrainMachine.Profiling = true;
        trainer.Fit(data, untilEpoch: 1);
        trainer.TrainMachine.ResetProfile();
        trainer.PhaseProfile.Clear();
        using var allocations = new AllocationSampler();
        long threadBytes = GC.GetAllocatedBytesForCurrentThread(), allBytes = GC.GetTotalAllocatedBytes(precise: true);
        int gen0 = GC.CollectionCount(0);
        var sw = Stopwatch.StartNew();
        trainer.Fit(data);
        double total = sw.Elapsed.TotalSeconds;
        threadBytes = GC.GetAllocatedBytesForCurrentThread() - threadBytes;
        allBytes = GC.GetTotalAllocatedBytes(precise: true) - allBytes;
        gen0 = GC.CollectionCount(0) - gen0;
        allocations.Dispose();

        int lossId = trainer.TrainLoss.Id;
        double fwd = 0, bwd = 0;
        var ops = new Dictionary<(string Op, bool Backward), double>();
        foreach (var (node, seconds) in trainer.TrainMachine.NodeProfile)
        {
            bool backward = node.Id > lossId;
            if (backward) bwd += seconds; else fwd += seconds;
            var key = (node.Operation!.Name, backward);
            ops[key] = ops.GetValueOrDefault(key) + seconds;
        }
        double ms(double s) => s * 1e3 / steps;
        Console.WriteLine($"{model} batch {batch}: {steps} steps, {ms(total):F3} ms/step ({total * 60000.0 / (batch * steps):F1} s per 60k-sample epoch)");
        Console.WriteLine($"allocated per step: {threadBytes / steps} B on the training thread, {allBytes / steps} B on all threads; gen0 GCs: {gen0}");
        foreach (var (type, count) in allocations.ByType.OrderByDescending(kv => kv.Value).Take(8))
            Console.WriteLine($"  allocation samples (~100 KB each): {count,4} × {type}");
        Console.WriteLine("phase                ms/step   share");
        var phases = new List<(string, double)>(trainer.PhaseProfile.Select(kv => (kv.Key, kv.Value)));
        phases.Add(("  graph: forward", fwd));
        phases.Add(("  graph: backward", bwd));
        foreach (var (name, s) in phases.OrderByDescending(p => p.Item2))
            Console.WriteLine($"{name,-20} {ms(s),7:F3}  {s / total,6:P1}");
        Console.WriteLine("op (pass)                          ms/step   share");
        foreach (var ((op, backward), s) in ops.OrderByDescending(kv => kv.Value))
            Console.WriteLine($"{op + (backward ? " (bwd)" : " (fwd)"),-34} {ms(s),7:F3}  {s / total,6:P1}");
        Console.WriteLine("node (≥ 1 % of the step)                                    ms/step   share");
        foreach (var (node, s) in trainer.TrainMachine.NodeProfile.Where(n => n.Seconds >= 0.01 * total).OrderByDescending(n => n.Seconds))
        {
            string inputs = string.Join(" ", node.Inputs.Select(i => ShapeMath.Format(i.Value?.ShapeArray() ?? i.Shape)));
            Console.WriteLine($"{node.Operation!.Name + (node.Id > lossId ? " (bwd) " : " (fwd) ") + inputs,-60} {ms(s),7:F3}  {s / total,6:P1}");
        }
        return 0;
    }
}

/// <summary>Counts the runtime's GC AllocationTick events (one per ~100 KB allocated) by the type that tipped them.</summary>
internal sealed class AllocationSampler : System.Diagnostics.Tracing.EventListener
{
    public Dictionary<string, int> ByType { get; } = [];

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1 /* GC */);
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null) return;
        int i = e.PayloadNames!.IndexOf("TypeName");
        string type = i >= 0 ? e.Payload[i]?.ToString() ?? "?" : "?";
        lock (ByType) ByType[type] = ByType.GetValueOrDefault(type) + 1;
    }
}
