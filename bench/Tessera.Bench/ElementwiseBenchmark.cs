using System.Text.Json;
using Tessera.Graphs;

namespace Tessera.Bench;

/// <summary>add, mul, exp on 1M and 16M float32 through the graph executor (so the figure includes dispatch).</summary>
internal static class ElementwiseBenchmark
{
    public static int Run()
    {
        var rows = new List<object>();
        foreach (int n in new[] { 1 << 20, 1 << 24 })
        {
            foreach (var op in new[] { "add", "mul", "exp" })
            {
                var g = new Graph();
                var a = g.Constant(Tensor.RandomUniform(1, DType.Float32, -1, 1, n));
                var b = g.Constant(Tensor.RandomUniform(2, DType.Float32, -1, 1, n));
                _ = op switch { "add" => Ops.Add(a, b), "mul" => Ops.Mul(a, b), _ => Ops.Exp(a) };
                using var m = new TapeMachine(g);
                int reps = n > 1 << 22 ? 15 : 60;
                double ms = Timing.MedianMs(m.RunAll, reps);
                rows.Add(new { op, n, median_ms = Math.Round(ms, 4), gelem_per_s = Math.Round(n / ms / 1e6, 3) });
            }
        }
        Console.WriteLine(JsonSerializer.Serialize(rows));
        return 0;
    }
}
