using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Trees.Data;

namespace Tessera.Trees.Boosting;

/// <summary>Settings of one tree's growth (the part of <see cref="BoosterOptions"/> the grower needs).</summary>
internal sealed record GrowthSettings(
    int MaxDepth, int MaxLeaves, GrowPolicy Policy, double MinChildWeight, double Lambda, double Alpha,
    double Gamma, double MaxDeltaStep, double LearningRate, double ColsampleByNode, int MaxCatToOneHot)
{
    public static GrowthSettings From(BoosterOptions o) => new(o.MaxDepth, o.MaxLeaves, o.GrowPolicy, o.MinChildWeight,
        o.Lambda, o.Alpha, o.Gamma, o.MaxDeltaStep, o.LearningRate, o.ColsampleByNode, o.MaxCatToOneHot);
}

/// <summary>
/// A grown tree and where its training rows ended up: for each leaf node, the [Begin, End) range of RowOrder
/// (row ids) that reached it.
/// </summary>
internal sealed record GrownTree(DecisionTree Tree, int[] RowOrder, List<(int Node, int Begin, int End)> LeafRanges);

/// <summary>
/// Grows one regression tree on gradient pairs over a <see cref="BinnedMatrix"/> with (G, H) histograms.
/// </summary>
/// <remarks>
/// Rows of a node are a contiguous range of a row-index array, and their gradient pairs are kept in the same
/// order (LightGBM's "ordered gradients"), so a histogram pass reads gradients sequentially; it reads each row's
/// bins from the row-major copy and partitions read one feature-major column. Of two children, only the smaller gets its histogram built; the sibling's is parent − smaller,
/// computed in the parent's buffer. Histograms are built in parallel over feature ranges: each feature's sums are
/// accumulated by one thread in row order, so results do not depend on the thread count.
/// One grower per thread; it reuses its buffers across trees.
/// </remarks>
internal sealed class TreeGrower
{
    private readonly BinnedMatrix _data;
    private readonly int _threads;
    private readonly int[] _index, _indexScratch;
    private readonly double[] _gh, _ghScratch;
    private readonly Stack<double[]> _pool = new();
    private readonly byte[] _goLeft = new byte[256];

    public TreeGrower(BinnedMatrix data, int threads)
    {
        _data = data;
        _threads = Math.Max(1, threads);
        _index = new int[data.Rows];
        _indexScratch = new int[data.Rows];
        _gh = new double[2 * data.Rows];
        _ghScratch = new double[2 * data.Rows];
    }

    private sealed class Node
    {
        public int Id, Begin, End, Depth;
        public double G, H;
        public double[]? Histogram;
        public SplitCandidate Split;
    }

    private sealed class TreeArrays
    {
        public readonly List<int> Feature = [], Left = [], Right = [], CategorySet = [];
        public readonly List<float> Threshold = [];
        public readonly List<bool> DefaultLeft = [];
        public readonly List<double> Value = [], Gain = [], Cover = [];
        public readonly List<ulong[]> Sets = [];

        public int Add(double cover)
        {
            Feature.Add(-1); Left.Add(-1); Right.Add(-1); CategorySet.Add(-1); Threshold.Add(0); DefaultLeft.Add(false);
            Value.Add(0); Gain.Add(0); Cover.Add(cover);
            return Left.Count - 1;
        }
    }

    /// <summary>
    /// Grows a tree on <paramref name="gradHess"/> ((g, h) per row id) for the rows in <paramref name="rows"/>
    /// (null: all rows), splitting only on <paramref name="features"/>.
    /// </summary>
    public GrownTree Grow(double[] gradHess, int[]? rows, int rowCount, int[] features, GrowthSettings s, Random rng)
    {
        int n = rows is null ? _data.Rows : rowCount;
        if (rows is null)
        {
            for (int i = 0; i < n; i++) _index[i] = i;
            Array.Copy(gradHess, _gh, 2 * n);
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                int r = rows[i];
                _index[i] = r;
                _gh[2 * i] = gradHess[2 * r];
                _gh[2 * i + 1] = gradHess[2 * r + 1];
            }
        }
        var scoring = new SplitScoring(s.Lambda, s.Alpha, s.MaxDeltaStep);
        var tree = new TreeArrays();
        var leaves = new List<(int, int, int)>();

        double g0 = 0, h0 = 0;
        for (int i = 0; i < n; i++) { g0 += _gh[2 * i]; h0 += _gh[2 * i + 1]; }
        var root = new Node { Id = tree.Add(h0), Begin = 0, End = n, Depth = 0, G = g0, H = h0 };
        if (n >= 2)
        {
            root.Histogram = Rent();
            BuildHistogram(root.Begin, root.End, root.Histogram, features);
            root.Split = FindBestSplit(root, features, s, scoring, rng);
        }
        else root.Split = SplitCandidate.None;

        var fifo = new Queue<Node>();
        var best = new PriorityQueue<Node, (double, int)>();
        void Push(Node node)
        {
            if (s.Policy == GrowPolicy.DepthWise) fifo.Enqueue(node);
            else best.Enqueue(node, (-node.Split.Gain, node.Id));
        }
        Push(root);
        int leafCount = 1;
        double minGain = Math.Max(s.Gamma, 1e-6);
        while (fifo.Count + best.Count > 0)
        {
            var node = s.Policy == GrowPolicy.DepthWise ? fifo.Dequeue() : best.Dequeue();
            bool split = node.Split.Feature >= 0 && node.Split.Gain > minGain && (s.MaxLeaves == 0 || leafCount < s.MaxLeaves);
            if (!split)
            {
                MakeLeaf(tree, node, scoring, s.LearningRate, leaves);
                Return(node.Histogram);
                continue;
            }
            leafCount++;
            var sp = node.Split;
            int mid = Partition(node.Begin, node.End, sp);
            int id = node.Id;
            tree.Feature[id] = sp.Feature;
            tree.DefaultLeft[id] = sp.DefaultLeft;
            tree.Gain[id] = sp.Gain;
            if (sp.Categories is not null)
            {
                tree.CategorySet[id] = tree.Sets.Count;
                tree.Sets.Add(sp.Categories);
                tree.Threshold[id] = float.NaN;
            }
            else tree.Threshold[id] = _data.Threshold(sp.Feature, sp.Bin);
            double gr = node.G - sp.LeftG, hr = node.H - sp.LeftH;
            var left = new Node { Id = tree.Add(sp.LeftH), Begin = node.Begin, End = mid, Depth = node.Depth + 1, G = sp.LeftG, H = sp.LeftH };
            var right = new Node { Id = tree.Add(hr), Begin = mid, End = node.End, Depth = node.Depth + 1, G = gr, H = hr };
            tree.Left[id] = left.Id;
            tree.Right[id] = right.Id;

            bool childrenMaySplit = s.MaxDepth == 0 || left.Depth < s.MaxDepth;
            if (childrenMaySplit && (s.MaxLeaves == 0 || leafCount < s.MaxLeaves))
            {
                var (small, large) = mid - node.Begin <= node.End - mid ? (left, right) : (right, left);
                small.Histogram = Rent();
                BuildHistogram(small.Begin, small.End, small.Histogram, features);
                large.Histogram = node.Histogram;
                node.Histogram = null;
                Subtract(large.Histogram!, small.Histogram, features);
                left.Split = left.End - left.Begin >= 2 ? FindBestSplit(left, features, s, scoring, rng) : SplitCandidate.None;
                right.Split = right.End - right.Begin >= 2 ? FindBestSplit(right, features, s, scoring, rng) : SplitCandidate.None;
            }
            else
            {
                left.Split = right.Split = SplitCandidate.None;
                Return(node.Histogram);
                node.Histogram = null;
            }
            Push(left);
            Push(right);
        }

        var dt = new DecisionTree
        {
            Feature = tree.Feature.ToArray(), Threshold = tree.Threshold.ToArray(), DefaultLeft = tree.DefaultLeft.ToArray(),
            Left = tree.Left.ToArray(), Right = tree.Right.ToArray(), CategorySet = tree.CategorySet.ToArray(),
            CategorySets = tree.Sets.ToArray(), Values = tree.Value.ToArray(), Outputs = 1, Gain = tree.Gain.ToArray(),
            Cover = tree.Cover.ToArray(),
        };
        return new GrownTree(dt, _index, leaves);
    }

    private static void MakeLeaf(TreeArrays tree, Node node, SplitScoring scoring, double eta, List<(int, int, int)> leaves)
    {
        tree.Value[node.Id] = eta * scoring.Weight(node.G, node.H);
        leaves.Add((node.Id, node.Begin, node.End));
    }

    private double[] Rent() => _pool.Count > 0 ? _pool.Pop() : new double[2 * _data.TotalSlots];

    private void Return(double[]? h)
    {
        if (h is not null) _pool.Push(h);
    }

    private void Subtract(double[] parentThenLarge, double[] small, int[] features)
    {
        if (features.Length == _data.Features)
        {
            System.Numerics.Tensors.TensorPrimitives.Subtract(parentThenLarge, small, parentThenLarge);
            return;
        }
        foreach (int f in features)
        {
            int a = 2 * _data.Offset[f], len = 2 * (_data.BinCount[f] + 1);
            var p = parentThenLarge.AsSpan(a, len);
            System.Numerics.Tensors.TensorPrimitives.Subtract(p, small.AsSpan(a, len), p);
        }
    }

    /// <summary>
    /// Histogram of the node's rows over <paramref name="features"/> (sorted ascending). Row-wise over the row-major
    /// bins, tiled: 256 rows at a time, 64 features at a time, so the rows and that slice of the histogram stay in
    /// L2, and consecutive updates hit different features (no store-to-load dependency chain on a popular bin).
    /// Threads take disjoint feature ranges, so each sum is accumulated in row order by one thread.
    /// </summary>
    private void BuildHistogram(int begin, int end, double[] hist, int[] features)
    {
        long work = (long)(end - begin) * features.Length;
        int t = Math.Min(_threads, features.Length);
        if (t > 1 && work >= 1 << 16)
        {
            Parallel.For(0, t, new ParallelOptions { MaxDegreeOfParallelism = t }, w =>
                BuildFeatureRange(begin, end, hist, features, (int)((long)features.Length * w / t), (int)((long)features.Length * (w + 1) / t)));
        }
        else BuildFeatureRange(begin, end, hist, features, 0, features.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: skip tier-0 code in short fits
    private unsafe void BuildFeatureRange(int begin, int end, double[] hist, int[] features, int j0, int j1)
    {
        const int RowChunk = 256, FeatureBlock = 64;
        int m = _data.Features;
        var offset = _data.Offset;
        for (int j = j0; j < j1; j++)
        {
            int f = features[j];
            hist.AsSpan(2 * offset[f], 2 * (_data.BinCount[f] + 1)).Clear();
        }
        fixed (byte* rowBins = _data.RowBins)
        fixed (double* histBase = hist)
        fixed (double* ghBase = _gh)
        fixed (int* index = _index, offsets = offset, feats = features)
        {
            for (int c0 = begin; c0 < end; c0 += RowChunk)
            {
                int c1 = Math.Min(end, c0 + RowChunk);
                for (int b0 = j0; b0 < j1; b0 += FeatureBlock)
                {
                    int b1 = Math.Min(j1, b0 + FeatureBlock);
                    int fFirst = feats[b0];
                    bool contiguous = feats[b1 - 1] - fFirst == b1 - b0 - 1;
                    if (contiguous)
                    {
                        int count = b1 - b0;
                        int* off = offsets + fFirst;
                        for (int i = c0; i < c1; i++)
                        {
                            byte* row = rowBins + (long)index[i] * m + fFirst;
                            var g = Vector128.Load(ghBase + 2 * i);
                            int k = 0;
                            for (; k + 4 <= count; k += 4)
                            {
                                double* s0 = histBase + 2 * (off[k] + row[k]);
                                double* s1 = histBase + 2 * (off[k + 1] + row[k + 1]);
                                double* s2 = histBase + 2 * (off[k + 2] + row[k + 2]);
                                double* s3 = histBase + 2 * (off[k + 3] + row[k + 3]);
                                Vector128.Store(Vector128.Load(s0) + g, s0);
                                Vector128.Store(Vector128.Load(s1) + g, s1);
                                Vector128.Store(Vector128.Load(s2) + g, s2);
                                Vector128.Store(Vector128.Load(s3) + g, s3);
                            }
                            for (; k < count; k++)
                            {
                                double* s0 = histBase + 2 * (off[k] + row[k]);
                                Vector128.Store(Vector128.Load(s0) + g, s0);
                            }
                        }
                    }
                    else
                    {
                        for (int i = c0; i < c1; i++)
                        {
                            byte* row = rowBins + (long)index[i] * m;
                            var g = Vector128.Load(ghBase + 2 * i);
                            for (int k = b0; k < b1; k++)
                            {
                                int f = feats[k];
                                double* s0 = histBase + 2 * (offsets[f] + row[f]);
                                Vector128.Store(Vector128.Load(s0) + g, s0);
                            }
                        }
                    }
                }
            }
        }
    }

    private SplitCandidate FindBestSplit(Node node, int[] features, GrowthSettings s, SplitScoring scoring, Random rng)
    {
        int[] candidates = features;
        if (s.ColsampleByNode < 1)
        {
            int keep = Math.Max(1, (int)Math.Round(s.ColsampleByNode * features.Length));
            candidates = (int[])features.Clone();
            for (int i = 0; i < keep; i++)
            {
                int j = i + rng.Next(candidates.Length - i);
                (candidates[i], candidates[j]) = (candidates[j], candidates[i]);
            }
            candidates = candidates[..keep];
            Array.Sort(candidates);
        }
        double parentScore = scoring.Score(node.G, node.H);
        var hist = node.Histogram!;
        long slots = 0;
        foreach (int f in candidates) slots += _data.BinCount[f];
        if (_threads > 1 && slots >= 1 << 14)
        {
            int t = Math.Min(_threads, candidates.Length);
            var bests = new SplitCandidate[t];
            Parallel.For(0, t, new ParallelOptions { MaxDegreeOfParallelism = t }, w =>
            {
                var b = SplitCandidate.None;
                for (int j = w; j < candidates.Length; j += t) EvaluateFeature(candidates[j], hist, node, parentScore, s, scoring, ref b);
                bests[w] = b;
            });
            var best = SplitCandidate.None;
            foreach (var b in bests) if (b.BetterThan(best)) best = b;
            return best;
        }
        var result = SplitCandidate.None;
        foreach (int f in candidates) EvaluateFeature(f, hist, node, parentScore, s, scoring, ref result);
        return result;
    }

    // Gains are rounded to float, as XGBoost does, so that splits which separate the same rows tie exactly
    // (rather than by rounding noise) and the lower feature index wins, as in XGBoost.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: skip tier-0 code in short fits
    private void EvaluateFeature(int f, double[] hist, Node node, double parentScore, GrowthSettings s, SplitScoring scoring, ref SplitCandidate best)
    {
        int nb = _data.BinCount[f];
        var h = hist.AsSpan(2 * _data.Offset[f], 2 * (nb + 1));
        double gm = h[2 * nb], hm = h[2 * nb + 1];
        bool hasMissing = hm > 0;
        double G = node.G, H = node.H, mcw = s.MinChildWeight;
        if (_data.IsCategorical[f])
        {
            EvaluateCategorical(f, h, nb, gm, hm, hasMissing, node, parentScore, s, scoring, ref best);
            return;
        }
        // Missing values go right (forward scan); with missing values present, also try them on the left.
        double gl = 0, hl = 0;
        int last = hasMissing ? nb : nb - 1;
        for (int b = 0; b < last; b++)
        {
            double hb = h[2 * b + 1];
            gl += h[2 * b];
            hl += hb;
            // An empty bin leaves (G_L, H_L) as at the bin before, whose candidate was already scored (or skipped):
            // the same gain cannot win, so skip the two divisions. Fashion-MNIST's deep nodes are mostly empty bins.
            if (hb == 0 || hl < mcw || hl <= 0) continue;
            double hr = H - hl;
            if (hr < mcw || hr <= 0) continue;
            double gain = (float)(scoring.Score(gl, hl) + scoring.Score(G - gl, hr) - parentScore);
            if (gain > best.Gain || (gain == best.Gain && f < best.Feature))
                best = new SplitCandidate { Feature = f, Bin = b, DefaultLeft = false, Gain = gain, LeftG = gl, LeftH = hl };
        }
        if (!hasMissing) return;
        gl = gm; hl = hm;
        for (int b = 0; b < nb - 1; b++)
        {
            double hb = h[2 * b + 1];
            gl += h[2 * b];
            hl += hb;
            // As above, except at bin 0: "only the missing rows go left" has not been scored yet.
            if ((hb == 0 && b > 0) || hl < mcw || hl <= 0) continue;
            double hr = H - hl;
            if (hr < mcw || hr <= 0) continue;
            double gain = (float)(scoring.Score(gl, hl) + scoring.Score(G - gl, hr) - parentScore);
            if (gain > best.Gain || (gain == best.Gain && f < best.Feature))
                best = new SplitCandidate { Feature = f, Bin = b, DefaultLeft = true, Gain = gain, LeftG = gl, LeftH = hl };
        }
    }

    /// <summary>
    /// One-vs-rest for few categories; otherwise categories sorted by their leaf weight G/(H+λ) and split at the
    /// best prefix (the optimal binary partition for a convex loss, as in LightGBM and XGBoost).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: skip tier-0 code in short fits
    private static void EvaluateCategorical(int f, Span<double> h, int nb, double gm, double hm, bool hasMissing, Node node,
        double parentScore, GrowthSettings s, SplitScoring scoring, ref SplitCandidate best)
    {
        double G = node.G, H = node.H, mcw = s.MinChildWeight;
        var present = new List<int>(nb);
        for (int c = 0; c < nb; c++) if (h[2 * c + 1] > 0) present.Add(c);
        if (present.Count + (hasMissing ? 1 : 0) < 2) return;
        bool oneHot = nb <= s.MaxCatToOneHot;
        if (!oneHot)
        {
            double lambda = s.Lambda;
            var hh = h.ToArray();
            present.Sort((a, b) =>
            {
                int cmp = (hh[2 * a] / (hh[2 * a + 1] + lambda)).CompareTo(hh[2 * b] / (hh[2 * b + 1] + lambda));
                return cmp != 0 ? cmp : a.CompareTo(b);
            });
        }
        int bestK = -1, bestCat = -1;
        bool bestDefaultLeft = false;
        double bestGain = best.Gain, bestGl = 0, bestHl = 0;
        for (int pass = 0; pass < (hasMissing ? 2 : 1); pass++)
        {
            bool missingLeft = pass == 1;
            double gl = missingLeft ? gm : 0, hl = missingLeft ? hm : 0;
            int count = oneHot ? present.Count : present.Count - (missingLeft ? 0 : 1);
            for (int k = 0; k < count; k++)
            {
                int c = present[k];
                double cg, ch;
                if (oneHot) { cg = (missingLeft ? gm : 0) + h[2 * c]; ch = (missingLeft ? hm : 0) + h[2 * c + 1]; }
                else { gl += h[2 * c]; hl += h[2 * c + 1]; cg = gl; ch = hl; }
                double hr = H - ch;
                if (ch < mcw || ch <= 0 || hr < mcw || hr <= 0) continue;
                double gain = (float)(scoring.Score(cg, ch) + scoring.Score(G - cg, hr) - parentScore);
                if (gain > bestGain)
                {
                    bestGain = gain; bestK = k; bestCat = c; bestDefaultLeft = missingLeft; bestGl = cg; bestHl = ch;
                }
            }
        }
        if (bestK < 0) return;
        var set = new ulong[4];
        if (oneHot) set[bestCat >> 6] |= 1UL << (bestCat & 63);
        else for (int k = 0; k <= bestK; k++) { int c = present[k]; set[c >> 6] |= 1UL << (c & 63); }
        best = new SplitCandidate { Feature = f, Bin = -1, DefaultLeft = bestDefaultLeft, Gain = bestGain, LeftG = bestGl, LeftH = bestHl, Categories = set };
    }

    /// <summary>Stable partition of the node's rows (and their gradient pairs): left rows first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot loops: skip tier-0 code in short fits
    private unsafe int Partition(int begin, int end, in SplitCandidate sp)
    {
        int f = sp.Feature, nb = _data.BinCount[f];
        for (int b = 0; b < nb; b++)
            _goLeft[b] = (byte)((sp.Categories is null ? b <= sp.Bin : ((sp.Categories[b >> 6] >> (b & 63)) & 1) != 0) ? 1 : 0);
        _goLeft[nb] = (byte)(sp.DefaultLeft ? 1 : 0);
        int l = begin, r = 0;
        fixed (byte* binsBase = _data.Bins)
        fixed (byte* lut = _goLeft)
        fixed (int* index = _index, scratch = _indexScratch)
        fixed (double* gh = _gh, ghs = _ghScratch)
        {
            byte* col = binsBase + (long)f * _data.Rows;
            for (int i = begin; i < end; i++)
            {
                int row = index[i];
                if (lut[col[row]] != 0)
                {
                    index[l] = row;
                    gh[2 * l] = gh[2 * i];
                    gh[2 * l + 1] = gh[2 * i + 1];
                    l++;
                }
                else
                {
                    scratch[r] = row;
                    ghs[2 * r] = gh[2 * i];
                    ghs[2 * r + 1] = gh[2 * i + 1];
                    r++;
                }
            }
            Buffer.MemoryCopy(scratch, index + l, (long)r * sizeof(int), (long)r * sizeof(int));
            Buffer.MemoryCopy(ghs, gh + 2 * l, (long)r * 16, (long)r * 16);
        }
        return l;
    }
}
