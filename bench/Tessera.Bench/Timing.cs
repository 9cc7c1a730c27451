using System.Diagnostics;

namespace Tessera.Bench;

internal static class Timing
{
    /// <summary>Median wall time in milliseconds of <paramref name="reps"/> runs after <paramref name="warmup"/> unmeasured ones.</summary>
    public static double MedianMs(Action body, int reps, int warmup = 3)
    {
        for (int i = 0; i < warmup; i++) body();
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
