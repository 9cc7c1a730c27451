namespace Tessera.Trees;

/// <summary>Sums tree leaf values over rows, in parallel over blocks of rows; the prediction hot loop of both ensembles.</summary>
internal static class TreeEvaluation
{
    /// <summary>
    /// Rows per block: a block's rows (64 × Fashion-MNIST's 784 floats = 200 KB) and the trees' nodes stay in L2
    /// while every tree walks the block.
    /// </summary>
    private const int Block = 64;

    /// <summary>
    /// output[r * outputs + j] += scale * value, for tree i adding to output i % outputs (boosting, one value per
    /// leaf) or, for trees with <c>Outputs == outputs</c> (forests), all of a leaf's values.
    /// </summary>
    public static void AddAll(PackedEnsemble trees, float[] x, int m, int rows, int outputs, double scale, double[] output, int threads)
    {
        CheckSizes(x, m, rows, outputs, output);
        int blocks = (rows + Block - 1) / Block;
        if (blocks == 1 || threads == 1 || (long)rows * trees.TreeCount < 20_000)
        {
            for (int b = 0; b < blocks; b++) trees.AddBlock(x, m, b * Block, Math.Min(rows, (b + 1) * Block), outputs, scale, output);
            return;
        }
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            b => trees.AddBlock(x, m, b * Block, Math.Min(rows, (b + 1) * Block), outputs, scale, output));
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
