using System.Numerics;
using System.Runtime.CompilerServices;
using Tessera.Trees.Data;

namespace Tessera.Trees.Forest;

/// <summary>
/// Grows one forest tree on binned features: Gini impurity over class counts (classification) or squared error
/// (regression), a fresh random subset of features at every node, rows weighted by their bootstrap counts.
/// </summary>
/// <remarks>
/// Per node and sampled feature, a histogram of (weight, class counts or weighted target sum) per bin is built
/// from the node's rows. Only the bins present in the node are cleared and scanned (a 256-bit presence mask),
/// so the many small nodes of a deep tree cost O(rows), not O(bins). Categorical features split one-vs-rest.
/// </remarks>
internal sealed class ForestTreeBuilder
{
    private readonly BinnedMatrix _data;
    private readonly int[] _classes;      // classification targets (or null)
    private readonly double[] _targets;   // regression targets
    private readonly int _k;              // stats per bin after the weight: classes, or 1 (weighted target sum)
    private readonly RandomForestOptions _o;
    private readonly int[] _index, _scratch;
    private readonly double[] _hist;      // (1 + k) per bin, 256 bins
    private readonly byte[] _goLeft = new byte[256];

    public ForestTreeBuilder(BinnedMatrix data, int[]? classes, double[]? targets, int classCount, RandomForestOptions options)
    {
        _data = data;
        _classes = classes ?? [];
        _targets = targets ?? [];
        _k = options.Classification ? classCount : 1;
        _o = options;
        _index = new int[data.Rows];
        _scratch = new int[data.Rows];
        _hist = new double[256 * (1 + _k)];
    }

    private struct Best
    {
        public int Feature, Bin, Category;
        public bool DefaultLeft;
        public double Score;
    }

    /// <summary>Grows a tree on rows with positive <paramref name="weight"/> (bootstrap counts).</summary>
    public DecisionTree Grow(int[] weight, Random rng)
    {
        int n = 0;
        for (int r = 0; r < _data.Rows; r++) if (weight[r] > 0) _index[n++] = r;
        int outputs = _k;
        var feature = new List<int>(); var threshold = new List<float>(); var defaultLeft = new List<bool>();
        var left = new List<int>(); var right = new List<int>(); var catSet = new List<int>(); var sets = new List<ulong[]>();
        var values = new List<double>(); var gain = new List<double>(); var cover = new List<double>();
        int mtry = _o.FeaturesPerSplit(_data.Features);
        var featureOrder = Enumerable.Range(0, _data.Features).ToArray();
        var stats = new double[1 + _k];

        int AddNode(int begin, int end)
        {
            Array.Clear(stats);
            for (int i = begin; i < end; i++)
            {
                int r = _index[i];
                double w = weight[r];
                stats[0] += w;
                if (_o.Classification) stats[1 + _classes[r]] += w; else stats[1] += w * _targets[r];
            }
            feature.Add(-1); threshold.Add(0); defaultLeft.Add(false); left.Add(-1); right.Add(-1); catSet.Add(-1);
            gain.Add(0); cover.Add(stats[0]);
            if (_o.Classification) for (int c = 0; c < _k; c++) values.Add(stats[1 + c] / stats[0]);
            else values.Add(stats[1] / stats[0]);
            return left.Count - 1;
        }

        var stack = new Stack<(int Node, int Begin, int End, int Depth)>();
        stack.Push((AddNode(0, n), 0, n, 0));
        var nodeStats = new double[1 + _k];
        while (stack.Count > 0)
        {
            var (node, begin, end, depth) = stack.Pop();
            double total = cover[node];
            if (total < _o.MinSamplesSplit || total < 2 * _o.MinSamplesLeaf || (_o.MaxDepth > 0 && depth >= _o.MaxDepth)) continue;
            if (_o.Classification)
            {
                int nonzero = 0;
                for (int c = 0; c < _k; c++) if (values[node * outputs + c] > 0) nonzero++;
                if (nonzero <= 1) continue; // pure
            }
            nodeStats[0] = total;
            if (_o.Classification) for (int c = 0; c < _k; c++) nodeStats[1 + c] = values[node * outputs + c] * total;
            else nodeStats[1] = values[node] * total;
            double parent = Purity(nodeStats);

            // sklearn's sampling: a fresh random feature subset per node (partial Fisher-Yates).
            var best = new Best { Feature = -1, Score = parent + 1e-12 * Math.Abs(parent) + 1e-12 };
            for (int j = 0; j < mtry; j++)
            {
                int pick = j + rng.Next(featureOrder.Length - j);
                (featureOrder[j], featureOrder[pick]) = (featureOrder[pick], featureOrder[j]);
                EvaluateFeature(featureOrder[j], begin, end, weight, nodeStats, ref best);
            }
            if (best.Feature < 0) continue;

            int mid = Partition(begin, end, best);
            if (mid == begin || mid == end) continue;
            feature[node] = best.Feature;
            defaultLeft[node] = best.DefaultLeft;
            gain[node] = best.Score - parent;
            if (_data.IsCategorical[best.Feature])
            {
                var set = new ulong[4];
                set[best.Category >> 6] |= 1UL << (best.Category & 63);
                catSet[node] = sets.Count;
                sets.Add(set);
                threshold[node] = float.NaN;
            }
            else threshold[node] = _data.Threshold(best.Feature, best.Bin);
            int l = AddNode(begin, mid), r = AddNode(mid, end);
            left[node] = l;
            right[node] = r;
            stack.Push((r, mid, end, depth + 1));
            stack.Push((l, begin, mid, depth + 1));
        }
        return new DecisionTree
        {
            Feature = feature.ToArray(), Threshold = threshold.ToArray(), DefaultLeft = defaultLeft.ToArray(), Left = left.ToArray(),
            Right = right.ToArray(), CategorySet = catSet.ToArray(), CategorySets = sets.ToArray(), Values = values.ToArray(),
            Outputs = outputs, Gain = gain.ToArray(), Cover = cover.ToArray(),
        };
    }

    /// <summary>
    /// Σ over children of (Σ_c count_c²)/weight for Gini (the weighted Gini decrease up to a constant), or
    /// (Σ w·y)²/Σ w for squared error; larger is better.
    /// </summary>
    private double Purity(ReadOnlySpan<double> s)
    {
        if (s[0] <= 0) return 0;
        double sq = 0;
        for (int c = 1; c <= _k; c++) sq += s[c] * s[c];
        return sq / s[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void EvaluateFeature(int f, int begin, int end, int[] weight, double[] nodeStats, ref Best best)
    {
        int stride = 1 + _k, nb = _data.BinCount[f];
        Span<ulong> present = stackalloc ulong[4];
        present.Clear();
        fixed (byte* binsBase = _data.Bins)
        fixed (int* index = _index)
        fixed (double* hist = _hist)
        {
            byte* col = binsBase + (long)f * _data.Rows;
            for (int i = begin; i < end; i++)
            {
                int b = col[index[i]];
                if ((present[b >> 6] & (1UL << (b & 63))) == 0)
                {
                    present[b >> 6] |= 1UL << (b & 63);
                    new Span<double>(hist + b * stride, stride).Clear();
                }
            }
            if (_o.Classification)
            {
                for (int i = begin; i < end; i++)
                {
                    int r = index[i];
                    double* h = hist + col[r] * stride;
                    double w = weight[r];
                    h[0] += w;
                    h[1 + _classes[r]] += w;
                }
            }
            else
            {
                for (int i = begin; i < end; i++)
                {
                    int r = index[i];
                    double* h = hist + col[r] * stride;
                    double w = weight[r];
                    h[0] += w;
                    h[1] += w * _targets[r];
                }
            }
        }
        bool hasMissing = (present[nb >> 6] & (1UL << (nb & 63))) != 0;
        present[nb >> 6] &= ~(1UL << (nb & 63));
        int distinct = 0;
        foreach (ulong word in present) distinct += BitOperations.PopCount(word);
        if (distinct < (hasMissing ? 1 : 2)) return;

        Span<double> leftStats = stackalloc double[stride];
        Span<double> rightStats = stackalloc double[stride];
        var missing = hasMissing ? _hist.AsSpan(nb * stride, stride) : default;
        double minLeaf = _o.MinSamplesLeaf;
        bool categorical = _data.IsCategorical[f];
        for (int pass = 0; pass < (hasMissing ? 2 : 1); pass++)
        {
            bool missingLeft = pass == 1;
            leftStats.Clear();
            if (missingLeft) missing.CopyTo(leftStats);
            int seen = 0;
            for (int word = 0; word < 4; word++)
            {
                ulong bits = present[word];
                while (bits != 0)
                {
                    int b = word * 64 + BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    seen++;
                    if (!categorical && seen == distinct && !(hasMissing && !missingLeft)) break; // nothing left on the right
                    var h = _hist.AsSpan(b * stride, stride);
                    Span<double> l = leftStats;
                    if (categorical)
                    {
                        // one-vs-rest: left = {b} (+ missing)
                        if (missingLeft) missing.CopyTo(l); else l.Clear();
                        for (int c = 0; c < stride; c++) l[c] += h[c];
                    }
                    else for (int c = 0; c < stride; c++) l[c] += h[c];
                    for (int c = 0; c < stride; c++) rightStats[c] = nodeStats[c] - l[c];
                    if (l[0] < minLeaf || rightStats[0] < minLeaf) continue;
                    double score = Purity(l) + Purity(rightStats);
                    if (score > best.Score)
                        best = new Best { Feature = f, Bin = b, Category = b, DefaultLeft = missingLeft, Score = score };
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe int Partition(int begin, int end, in Best best)
    {
        int f = best.Feature, nb = _data.BinCount[f];
        bool cat = _data.IsCategorical[f];
        for (int b = 0; b < nb; b++) _goLeft[b] = (byte)((cat ? b == best.Category : b <= best.Bin) ? 1 : 0);
        _goLeft[nb] = (byte)(best.DefaultLeft ? 1 : 0);
        int l = begin, r = 0;
        fixed (byte* binsBase = _data.Bins)
        fixed (int* index = _index, scratch = _scratch)
        {
            byte* col = binsBase + (long)f * _data.Rows;
            for (int i = begin; i < end; i++)
            {
                int row = index[i];
                if (_goLeft[col[row]] != 0) index[l++] = row; else scratch[r++] = row;
            }
            Buffer.MemoryCopy(scratch, index + l, (long)r * sizeof(int), (long)r * sizeof(int));
        }
        return l;
    }
}
