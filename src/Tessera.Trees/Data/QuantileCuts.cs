namespace Tessera.Trees.Data;

/// <summary>
/// Cut points of a numeric feature, chosen the way XGBoost 1.7's <c>hist</c> chooses them, so that trees split at
/// the same values.
/// </summary>
/// <remarks>
/// XGBoost summarises a feature as its distinct values with rank bounds (rmin = rows below the value, rmax = rmin +
/// its count), prunes that summary to <c>max_bin + 1</c> entries by picking, for each of <c>max_bin - 1</c> evenly
/// spaced target ranks, the entry whose rank interval is nearer (the pruning step of its weighted quantile sketch),
/// and uses entries 1 .. max_bin-1 of the pruned summary as cuts (entry 0, the minimum, never is). On data of up to
/// a few thousand rows its sketch is exact, so this reproduces its cuts; on larger data XGBoost's sketch is an
/// approximation of this exact summary. Rows are unweighted: <c>hist</c> sketches once, before any hessian exists
/// (hessian weights are the <c>approx</c> method's per-round re-sketch). Ranks are single-precision, as in XGBoost,
/// because the choice between two neighbouring entries compares rank sums and must round the same way.
/// </remarks>
internal static class QuantileCuts
{
    /// <summary>Cuts from the distinct values in ascending order and how many rows hold each.</summary>
    public static float[] FromSummary(ReadOnlySpan<float> values, ReadOnlySpan<int> counts, int maxBin)
    {
        int d = values.Length;
        if (d <= 1) return Array.Empty<float>();
        int maxSize = maxBin + 1;
        // Summary entries kept: all of them when they fit, else the pruned selection.
        int[] chosen = d <= maxSize ? Enumerable.Range(0, d).ToArray() : new int[maxSize];
        int size = d <= maxSize ? d : Prune(counts, maxSize, chosen);
        // The summary's first entry is the minimum and not a cut; at most maxBin - 1 cuts follow it.
        int required = Math.Min(size, maxBin);
        var cuts = new float[required - 1];
        for (int j = 1; j < required; j++) cuts[j - 1] = values[chosen[j]];
        return cuts;
    }

    /// <summary>Indices of the entries kept when the exact summary is pruned to <paramref name="maxSize"/> entries.</summary>
    private static int Prune(ReadOnlySpan<int> counts, int maxSize, Span<int> chosen)
    {
        int d = counts.Length;
        var rmin = new float[d];
        var w = new float[d];
        float sum = 0;
        for (int e = 0; e < d; e++) { rmin[e] = sum; w[e] = counts[e]; sum += w[e]; }
        float RMax(int e) => rmin[e] + w[e];

        float begin = RMax(0);
        float range = rmin[d - 1] - begin;
        int n = maxSize - 1;
        chosen[0] = 0;
        int size = 1, i = 1, last = 0;
        for (int k = 1; k < n; k++)
        {
            // Twice the target rank: k/n of the way between the end of the minimum's run and the start of the maximum's.
            float dx2 = 2 * ((k * range) / n + begin);
            while (i < d - 1 && dx2 >= RMax(i + 1) + rmin[i + 1]) i++;
            if (i == d - 1) break;
            // The target falls between entries i and i+1: take i when it is below the midpoint of the gap between them.
            int pick = dx2 < (rmin[i] + w[i]) + (RMax(i + 1) - w[i + 1]) ? i : i + 1;
            if (pick != last) { chosen[size++] = pick; last = pick; }
        }
        if (last != d - 1) chosen[size++] = d - 1;
        return size;
    }

    /// <summary>Cuts of sorted values (missing values already removed).</summary>
    public static float[] FromSorted(ReadOnlySpan<float> sorted, int maxBin)
    {
        if (sorted.Length == 0) return Array.Empty<float>();
        var values = new List<float>();
        var counts = new List<int>();
        for (int i = 0; i < sorted.Length;)
        {
            int j = i + 1;
            while (j < sorted.Length && sorted[j] == sorted[i]) j++;
            values.Add(sorted[i]);
            counts.Add(j - i);
            i = j;
        }
        return FromSummary(values.ToArray(), counts.ToArray(), maxBin);
    }

    /// <summary>Cuts of small non-negative integers given as a histogram: <c>counts[v]</c> rows hold value v.</summary>
    public static float[] FromCounts(int[] counts, int maxBin)
    {
        var values = new List<float>();
        var present = new List<int>();
        for (int v = 0; v < counts.Length; v++)
            if (counts[v] > 0) { values.Add(v); present.Add(counts[v]); }
        return FromSummary(values.ToArray(), present.ToArray(), maxBin);
    }
}
