namespace Tessera.Trees;

/// <summary>Sums tree leaf values over rows, in parallel over blocks of rows; the prediction hot loop of both ensembles.</summary>
internal static class TreeEvaluation
{
    /// <summary>
    /// output[r * outputs + j] += scale * value, for tree i adding to output i % outputs (boosting, one value per
    /// leaf) or, for trees with <c>Outputs == outputs</c> (forests), all of a leaf's values.
    /// </summary>
    public static void AddAll(PackedEnsemble trees, float[] x, int m, int rows, int outputs, double scale, double[] output, int threads)
    {
        CheckSizes(x, m, rows, outputs, output);
        if (rows == 0) return;
        bool parallel = threads > 1 && (long)rows * trees.TreeCount >= 20_000;
        int block = BlockRows(m, rows, parallel ? threads : 1);
        int blocks = (rows + block - 1) / block;
        if (!parallel || blocks == 1)
        {
            for (int b = 0; b < blocks; b++) trees.AddBlock(x, m, b * block, Math.Min(rows, (b + 1) * block), outputs, scale, output);
            return;
        }
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            b => trees.AddBlock(x, m, b * block, Math.Min(rows, (b + 1) * block), outputs, scale, output));
    }

    /// <summary>
    /// Rows per block: every tree walks the block, so per-tree overhead favours large blocks, while the block's
    /// rows should stay in L2 beside the nodes (~256 KB: 80 Fashion-MNIST rows of 784 floats, 512 digits rows), and
    /// each thread should get two or more blocks. A multiple of 8 (the vector walk's width), 8..512.
    /// </summary>
    internal static int BlockRows(int m, int rows, int threads)
    {
        long byCache = (256 * 1024) / Math.Max(1, 4L * m);
        long byThreads = (rows + 2L * threads - 1) / (2L * threads);
        long block = Math.Min(512, Math.Min(byCache, threads > 1 ? byThreads : long.MaxValue));
        return (int)Math.Max(8, (block + 7) / 8 * 8);
    }

    /// <summary>
    /// The same sums one row and one tree at a time through <see cref="DecisionTree.Leaf"/>: the reference the
    /// packed path is tested against.
    /// </summary>
    public static void AddAllSimple(IReadOnlyList<DecisionTree> trees, float[] x, int m, int rows, int outputs, double scale, double[] output)
    {
        CheckSizes(x, m, rows, outputs, output);
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * m, m);
            for (int i = 0; i < trees.Count; i++)
            {
                var tree = trees[i];
                int leaf = tree.Leaf(row);
                if (tree.Outputs == 1) output[(long)r * outputs + i % outputs] += scale * tree.Values[leaf];
                else for (int c = 0; c < tree.Outputs; c++) output[(long)r * outputs + c] += scale * tree.Values[leaf * tree.Outputs + c];
            }
        }
    }

    private static void CheckSizes(float[] x, int m, int rows, int outputs, double[] output)
    {
        if ((long)rows * m > x.Length)
            throw new ArgumentException($"{rows} rows of {m} features need {(long)rows * m} values; got {x.Length}.", nameof(x));
        if ((long)rows * outputs > output.Length)
            throw new ArgumentException($"{rows} rows of {outputs} outputs need {(long)rows * outputs} values; got {output.Length}.", nameof(output));
    }
}
