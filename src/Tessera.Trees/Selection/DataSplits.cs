namespace Tessera.Trees.Selection;

/// <summary>Train/test splits and k-fold partitions of row indices, stratified by class when asked.</summary>
public static class DataSplits
{
    /// <summary>
    /// Row indices of a random train/test split; with <paramref name="classes"/> each class is split in the same
    /// proportion (every class keeps at least one training row).
    /// </summary>
    public static (int[] Train, int[] Test) TrainTest(int rows, double testFraction, int seed, IReadOnlyList<int>? classes = null)
    {
        if (!(testFraction > 0 && testFraction < 1)) throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "test fraction must be in (0, 1).");
        var rng = new Random(seed);
        var train = new List<int>();
        var test = new List<int>();
        foreach (var group in Groups(rows, classes))
        {
            Shuffle(group, rng);
            int nTest = (int)Math.Round(group.Length * testFraction);
            if (nTest >= group.Length) nTest = group.Length - 1;
            test.AddRange(group[..nTest]);
            train.AddRange(group[nTest..]);
        }
        if (test.Count == 0) throw new ArgumentException($"a test fraction of {testFraction} leaves no test rows out of {rows}.");
        train.Sort();
        test.Sort();
        return (train.ToArray(), test.ToArray());
    }

    /// <summary>
    /// K folds (train rows, test rows); stratified when <paramref name="classes"/> is given: each class's rows are
    /// shuffled and dealt round-robin to the folds, as in sklearn's StratifiedKFold.
    /// </summary>
    public static IReadOnlyList<(int[] Train, int[] Test)> KFold(int rows, int k, int seed, IReadOnlyList<int>? classes = null)
    {
        if (k < 2) throw new ArgumentOutOfRangeException(nameof(k), k, "cross-validation needs at least 2 folds.");
        if (k > rows) throw new ArgumentException($"{k} folds need at least {k} rows; the data has {rows}.");
        var rng = new Random(seed);
        var fold = new int[rows];
        int next = 0;
        foreach (var group in Groups(rows, classes))
        {
            Shuffle(group, rng);
            foreach (int r in group) fold[r] = next++ % k;
        }
        var result = new List<(int[], int[])>();
        for (int f = 0; f < k; f++)
        {
            var test = Enumerable.Range(0, rows).Where(r => fold[r] == f).ToArray();
            var train = Enumerable.Range(0, rows).Where(r => fold[r] != f).ToArray();
            result.Add((train, test));
        }
        return result;
    }

    private static IEnumerable<int[]> Groups(int rows, IReadOnlyList<int>? classes)
    {
        if (classes is null) return [Enumerable.Range(0, rows).ToArray()];
        if (classes.Count != rows) throw new ArgumentException($"{classes.Count} class labels for {rows} rows.");
        return Enumerable.Range(0, rows).GroupBy(r => classes[r]).OrderBy(g => g.Key).Select(g => g.ToArray()).ToArray();
    }

    private static void Shuffle(int[] a, Random rng)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}
