using System.Diagnostics;

namespace Tessera.Bench;

internal static class Timing
{
    /// <summary>Median wall time in milliseconds of <paramref name="reps"/> runs after <paramref name="warmup"/> unmeasured ones.</summary>
    public static double MedianMs(Action body, int reps, int warmup = 3)
    {
        // Warm up for at least half a second as well: tiered JIT promotes hot methods (ours and TensorPrimitives')
        // to optimized code only after ~30 calls and a background compile.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < warmup || warm.ElapsedMilliseconds < 500; i++) body();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }
}
