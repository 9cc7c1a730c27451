using System.Runtime.CompilerServices;

namespace Tessera.Trees;

/// <summary>Sums tree leaf values over rows, in parallel over blocks of rows; the prediction hot loop of both ensembles.</summary>
internal static class TreeEvaluation
{
    private const int Block = 128;

    /// <summary>
    /// output[r * outputs + j] += scale * value, for tree i adding to output i % outputs (boosting, one value per
    /// leaf) or, for trees with <c>Outputs == outputs</c> (forests), all of a leaf's values.
    /// </summary>
    public static void AddAll(IReadOnlyList<DecisionTree> trees, float[] x, int m, int rows, int outputs, double scale, double[] output, int threads)
    {
        int blocks = (rows + Block - 1) / Block;
        if (blocks == 1 || threads == 1 || (long)rows * trees.Count < 20_000)
        {
            for (int b = 0; b < blocks; b++) AddBlock(trees, x, m, b * Block, Math.Min(rows, (b + 1) * Block), outputs, scale, output);
            return;
        }
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            b => AddBlock(trees, x, m, b * Block, Math.Min(rows, (b + 1) * Block), outputs, scale, output));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AddBlock(IReadOnlyList<DecisionTree> trees, float[] x, int m, int r0, int r1, int outputs, double scale, double[] output)
    {
        fixed (float* xs = x)
        fixed (double* o = output)
        {
            for (int i = 0; i < trees.Count; i++)
            {
                var tree = trees[i];
                int perLeaf = tree.Outputs;
                int target = perLeaf == 1 ? i % outputs : 0;
                var packed = tree.Packed;
                fixed (PackedNode* nodes = packed)
                fixed (double* values = tree.Values)
                {
                    for (int r = r0; r < r1; r++)
                    {
                        float* row = xs + (long)r * m;
                        int node = 0;
                        if (nodes is not null)
                        {
                            PackedNode* nd = nodes;
                            while (nd->Left >= 0)
                            {
                                float v = row[nd->FeatureAndDefault & int.MaxValue];
                                // NaN compares false: it goes left only when the default is left (sign bit).
                                bool left = v < nd->Threshold || (float.IsNaN(v) && nd->FeatureAndDefault < 0);
                                nd = nodes + (left ? nd->Left : nd->Right);
                            }
                            node = nd->Right;
                        }
                        else node = tree.Leaf(new ReadOnlySpan<float>(row, m));
                        if (perLeaf == 1) o[(long)r * outputs + target] += scale * values[node];
                        else for (int c = 0; c < perLeaf; c++) o[(long)r * outputs + c] += scale * values[node * perLeaf + c];
                    }
                }
            }
        }
    }
}
