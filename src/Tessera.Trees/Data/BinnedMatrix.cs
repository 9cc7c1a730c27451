namespace Tessera.Trees.Data;

/// <summary>
/// Features quantised to byte bins, feature-major (<c>Bins[f * Rows + r]</c>), plus the per-feature cut points.
/// </summary>
/// <remarks>
/// Feature <c>f</c> has <c>BinCount[f]</c> value bins 0..BinCount-1 and one more bin, <c>BinCount[f]</c>, for
/// missing values, so a histogram slot is always <c>Offset[f] + bin</c> with no branch on missing.
/// A numeric value x falls in bin b when <c>Cuts[f][b-1] &lt;= x &lt; Cuts[f][b]</c>, so "bin &lt;= b" is the same
/// test as "x &lt; Cuts[f][b]" (XGBoost's convention), and a tree trained on bins predicts on raw floats.
/// A categorical value's bin is its category code.
/// </remarks>
internal sealed class BinnedMatrix
{
    public required int Rows { get; init; }
    public required int Features { get; init; }
    public required byte[] Bins { get; init; }
    /// <summary>
    /// The same bins row-major (<c>RowBins[r * Features + f]</c>), built on first use: histogram passes read a
    /// node's rows as contiguous runs instead of gathering one byte per row from every feature column.
    /// </summary>
    public byte[] RowBins => _rowBins ??= Transpose();
    private byte[]? _rowBins;
    public required int[] BinCount { get; init; }
    public required int[] Offset { get; init; }
    public required int TotalSlots { get; init; }
    public required float[][] Cuts { get; init; }
    public required bool[] IsCategorical { get; init; }

    public int MissingBin(int f) => BinCount[f];

    private byte[] Transpose()
    {
        int n = Rows, m = Features;
        var result = GC.AllocateUninitializedArray<byte>(n * m);
        const int Block = 64;
        Parallel.For(0, (n + Block - 1) / Block, b =>
        {
            int r0 = b * Block, r1 = Math.Min(n, r0 + Block);
            for (int f = 0; f < m; f++)
            {
                int src = f * n;
                for (int r = r0; r < r1; r++) result[r * m + f] = Bins[src + r];
            }
        });
        return result;
    }

    /// <summary>Threshold for "bin &lt;= b goes left": +infinity when every value bin goes left.</summary>
    public float Threshold(int f, int b) => b < Cuts[f].Length ? Cuts[f][b] : float.PositiveInfinity;
}

/// <summary>Quantile binning: chooses cut points per feature and maps values to byte bins.</summary>
internal static class FeatureBinner
{
    /// <summary>Bins <paramref name="data"/> with at most <paramref name="maxBin"/> value bins per feature (2..255).</summary>
    public static BinnedMatrix Fit(TabularData data, int maxBin, int threads)
    {
        if (maxBin < 2 || maxBin > 255) throw new ArgumentOutOfRangeException(nameof(maxBin), maxBin, "max_bin must be in 2..255.");
        int n = data.Rows, m = data.ColumnCount;
        var cuts = new float[m][];
        var binCount = new int[m];
        var isCat = new bool[m];
        var bins = new byte[(long)n * m];
        var x = data.Features;
        // Columns are gathered 16 at a time (one cache line of floats per row), so the row-major matrix is read
        // once in all rather than once per feature.
        const int Group = 16;
        int groups = (m + Group - 1) / Group;
        try
        {
            Parallel.For(0, groups, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, () => new float[Group * (long)n], (g, _, columns) =>
            {
                int f0 = g * Group, f1 = Math.Min(m, f0 + Group), width = f1 - f0;
                for (int r = 0; r < n; r++)
                {
                    long src = (long)r * m + f0;
                    for (int j = 0; j < width; j++) columns[(long)j * n + r] = x[src + j];
                }
                for (int f = f0; f < f1; f++)
                {
                    var column = columns.AsSpan((int)((long)(f - f0) * n), n);
                    var dst = bins.AsSpan((int)((long)f * n), n);
                    if (data.Columns[f].IsCategorical) BinCategorical(data.Columns[f], column, dst, out binCount[f], out cuts[f], out isCat[f]);
                    else BinNumeric(column, dst, maxBin, out binCount[f], out cuts[f]);
                }
                return columns;
            }, _ => { });
        }
        catch (AggregateException e) when (e.InnerException is TabularDataException inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(inner);
        }

        var offset = new int[m];
        int total = 0;
        for (int f = 0; f < m; f++) { offset[f] = total; total += binCount[f] + 1; }
        return new BinnedMatrix
        {
            Rows = n, Features = m, Bins = bins, BinCount = binCount, Offset = offset, TotalSlots = total, Cuts = cuts, IsCategorical = isCat,
        };
    }

    private static void BinCategorical(FeatureColumn col, ReadOnlySpan<float> column, Span<byte> dst, out int binCount, out float[] cuts, out bool isCat)
    {
        isCat = true;
        int count = col.Categories.Count;
        foreach (float v in column)
            if (!float.IsNaN(v) && v >= count && v < 255 && v == MathF.Floor(v)) count = (int)v + 1;
        if (count > 254)
            throw new TabularDataException($"column '{col.Name}' has {count} categories; at most 254 are supported.");
        binCount = Math.Max(count, 1);
        cuts = Array.Empty<float>();
        for (int r = 0; r < column.Length; r++)
        {
            float v = column[r];
            if (float.IsNaN(v)) { dst[r] = (byte)binCount; continue; }
            if (v < 0 || v != MathF.Floor(v))
                throw new TabularDataException($"row {r + 1}, column '{col.Name}': categorical value {v} is not a category code (0, 1, 2, ...).");
            dst[r] = (byte)v;
        }
    }

    /// <summary>
    /// Numeric column: small non-negative integers (pixels, counts) are counted instead of sorted and binned by
    /// table lookup; anything else is sorted and binned by binary search. Both give the same cuts.
    /// </summary>
    private static void BinNumeric(Span<float> column, Span<byte> dst, int maxBin, out int binCount, out float[] cuts)
    {
        const int SmallIntLimit = 1 << 16;
        bool smallInts = true;
        int k = 0, max = 0;
        foreach (float v in column)
        {
            if (float.IsNaN(v)) continue;
            k++;
            if (!(v >= 0 && v < SmallIntLimit && v == (int)v)) { smallInts = false; break; }
            if (v > max) max = (int)v;
        }
        if (smallInts)
        {
            var counts = new int[max + 1];
            k = 0;
            foreach (float v in column) if (!float.IsNaN(v)) { counts[(int)v]++; k++; }
            cuts = QuantileCuts.FromCounts(counts, maxBin);
            binCount = cuts.Length + 1;
            var table = new byte[max + 1];
            for (int v = 0, b = 0; v <= max; v++)
            {
                while (b < cuts.Length && cuts[b] <= v) b++;
                table[v] = (byte)b;
            }
            for (int r = 0; r < column.Length; r++)
                dst[r] = float.IsNaN(column[r]) ? (byte)binCount : table[(int)column[r]];
            return;
        }
        var buffer = new float[column.Length];
        k = 0;
        foreach (float v in column) if (!float.IsNaN(v)) buffer[k++] = v;
        var present = buffer.AsSpan(0, k);
        present.Sort();
        cuts = QuantileCuts.FromSorted(present, maxBin);
        binCount = cuts.Length + 1;
        byte missing = (byte)binCount;
        for (int r = 0; r < column.Length; r++)
            dst[r] = float.IsNaN(column[r]) ? missing : (byte)UpperBound(cuts, column[r]);
    }

    /// <summary>Number of cuts &lt;= v.</summary>
    internal static int UpperBound(float[] cuts, float v)
    {
        int lo = 0, hi = cuts.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (cuts[mid] <= v) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
