using System.Text.Json;
using Tessera.Graphs;

namespace Tessera.Bench;

/// <summary>Per-node overhead of the tape machine: a chain of 1 000 tiny ops (scalar and 4-element adds/muls).</summary>
internal static class ExecutorBenchmark
{
    public static int Run()
    {
        var rows = new List<object>();
        foreach (int size in new[] { 1, 4 })
        {
            const int nodes = 1000;
            var g = new Graph();
            var x = g.Input(DType.Float32, size == 1 ? [] : [size], "x");
            var c = g.Constant(size == 1 ? Tensor.Scalar(1.0001f) : Tensor.Full(1.0001, DType.Float32, size));
            var y = x;
            for (int i = 0; i < nodes; i++) y = i % 2 == 0 ? Ops.Add(y, c) : Ops.Mul(y, c);
            Graph.Let(x, size == 1 ? Tensor.Scalar(0.5f) : Tensor.Full(0.5, DType.Float32, size));
            using var m = new TapeMachine(g);
            double ms = Timing.MedianMs(m.RunAll, 200, warmup: 50);
            long before = GC.GetAllocatedBytesForCurrentThread();
            m.RunAll();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            rows.Add(new { nodes, elements = size, us_per_node = Math.Round(ms * 1000 / nodes, 4), bytes_allocated_per_run = allocated });
        }
        Console.WriteLine(JsonSerializer.Serialize(rows));
        return 0;
    }
}
