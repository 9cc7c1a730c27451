using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Trees;

/// <summary>
/// All trees of an ensemble flattened into one node array for batch prediction (built once per model).
/// </summary>
/// <remarks>
/// Nodes are renumbered breadth-first per tree so that a node's children are adjacent (right = left + 1): a step is
/// then <c>node = Child + goRight</c>, computed with compares and no data-dependent branch, so the CPU does not
/// mispredict half of all steps. A leaf points at itself with a NaN threshold and default-left, so further steps
/// keep it where it is; that lets a block of rows walk a shallow tree in lockstep for exactly its depth, and the
/// rows of the block are independent chains the CPU overlaps. Trees with categorical splits are walked by
/// <see cref="DecisionTree.Leaf"/> instead. Per row, trees are added in the same order as the simple path
/// (<see cref="TreeEvaluation.AddAllSimple"/>), so the sums are bit-for-bit the same.
/// </remarks>
internal sealed class PackedEnsemble
{
    /// <summary>16 bytes, four to a cache line. FeatureAndDefault's sign bit is DefaultLeft; Value indexes leaf values.</summary>
    internal readonly record struct Node(int Child, float Threshold, int FeatureAndDefault, int Value);

    /// <summary>
    /// Without AVX2, trees at most this deep walk a block of rows in lockstep; deeper ones (forests) walk each row to
    /// its leaf. The AVX2 walk stops a group of 8 rows as soon as all of them are at leaves, so it takes any depth.
    /// </summary>
    private const int LockstepDepth = 10;

    /// <summary>Use the AVX2 walk where the CPU has it; tests switch it off to check the scalar paths (same results).</summary>
    internal static bool VectorWalk { get; set; } = Avx2.IsSupported;

    private readonly Node[] _nodes;
    private readonly double[] _values;
    private readonly int[] _root, _depth;
    private readonly DecisionTree?[] _categorical;
    /// <summary>For trees with categorical splits: packed slot of each original node.</summary>
    private readonly int[]?[] _slotOf;
    private readonly int _perLeaf;

    public int TreeCount => _root.Length;

    public PackedEnsemble(IReadOnlyList<DecisionTree> trees)
    {
        int total = 0;
        foreach (var t in trees) total += t.NodeCount;
        _perLeaf = trees.Count > 0 ? trees[0].Outputs : 1;
        _nodes = new Node[total];
        _values = new double[total * _perLeaf];
        _root = new int[trees.Count];
        _depth = new int[trees.Count];
        _categorical = new DecisionTree?[trees.Count];
        _slotOf = new int[]?[trees.Count];
        int next = 0;
        var queue = new Queue<(int Source, int Slot)>();
        for (int i = 0; i < trees.Count; i++)
        {
            var t = trees[i];
            if (t.Outputs != _perLeaf) throw new ArgumentException("all trees of an ensemble must have the same number of values per leaf.");
            _root[i] = next;
            _depth[i] = t.Depth();
            if (t.CategorySets.Length > 0) { _categorical[i] = t; _slotOf[i] = new int[t.NodeCount]; }
            queue.Enqueue((0, next++));
            while (queue.Count > 0)
            {
                var (s, slot) = queue.Dequeue();
                if (_slotOf[i] is { } slots) slots[s] = slot;
                if (t.Left[s] < 0)
                {
                    Array.Copy(t.Values, s * _perLeaf, _values, slot * _perLeaf, _perLeaf);
                    _nodes[slot] = new Node(slot, float.NaN, int.MinValue, slot * _perLeaf);
                    continue;
                }
                int child = next;
                next += 2;
                _nodes[slot] = new Node(child, t.Threshold[s], t.Feature[s] | (t.DefaultLeft[s] ? int.MinValue : 0), 0);
                queue.Enqueue((t.Left[s], child));
                queue.Enqueue((t.Right[s], child + 1));
            }
        }
    }

    /// <summary>
    /// output[r * outputs + j] += scale * leaf value for rows [r0, r1) of row-major <paramref name="x"/> (m features),
    /// tree i adding to output i % outputs when leaves hold one value, else to all outputs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void AddBlock(float[] x, int m, int r0, int r1, int outputs, double scale, double[] output)
    {
        int count = r1 - r0;
        int* cur = stackalloc int[count];
        fixed (float* xs = x)
        fixed (double* o = output, values = _values)
        fixed (Node* nodes = _nodes)
        {
            float* block = xs + (long)r0 * m;
            for (int i = 0; i < _root.Length; i++)
            {
                int root = _root[i];
                if (_categorical[i] is { } tree)
                {
                    var slots = _slotOf[i]!;
                    for (int r = 0; r < count; r++) cur[r] = slots[tree.Leaf(new ReadOnlySpan<float>(block + (long)r * m, m))];
                }
                else if (_depth[i] <= LockstepDepth || VectorWalk) WalkLockstep(nodes, root, _depth[i], block, m, count, cur);
                else
                {
                    for (int r = 0; r < count; r++)
                    {
                        float* row = block + (long)r * m;
                        int node = root, prev;
                        do { prev = node; node = Step(nodes, node, row); } while (node != prev);
                        cur[r] = node;
                    }
                }
                if (_perLeaf == 1) AddLeafValues(nodes, values, cur, count, o + (long)r0 * outputs + i % outputs, outputs, scale);
                else
                {
                    for (int r = 0; r < count; r++)
                    {
                        double* v = values + nodes[cur[r]].Value;
                        double* dst = o + (long)(r0 + r) * outputs;
                        for (int c = 0; c < _perLeaf; c++) dst[c] += scale * v[c];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Walks <paramref name="count"/> rows down one tree, level by level: each level is a loop of independent
    /// steps (one per row) that the CPU overlaps. Kept apart from <see cref="AddBlock"/> so the JIT keeps its few
    /// variables in registers. The root is the same for every row, so the first level reads it once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void WalkLockstep(Node* nodes, int root, int depth, float* block, int m, int count, int* cur)
    {
        Node top = nodes[root];
        if (depth == 0)
        {
            for (int r = 0; r < count; r++) cur[r] = root;
            return;
        }
        int f = top.FeatureAndDefault & int.MaxValue, dl = (int)((uint)top.FeatureAndDefault >> 31), child = top.Child + 1;
        float t = top.Threshold;
        if (VectorWalk && Avx2.IsSupported && 8L * m <= int.MaxValue)
        {
            // Vector walk for groups of 8 rows, then the last few rows one at a time down to their leaves.
            int r0 = WalkLockstepAvx2(nodes, top, depth, block, m, count, cur);
            for (int r = r0; r < count; r++)
            {
                float* row = block + (long)r * m;
                int node = root, prev;
                do { prev = node; node = Step(nodes, node, row); } while (node != prev);
                cur[r] = node;
            }
            return;
        }
        float* x = block + f;
        for (int r = 0; r < count; r++, x += m)
        {
            float v = *x;
            cur[r] = child - ((v < t ? 1 : 0) | ((v >= t ? 0 : 1) & dl));
        }
        for (int level = depth - 1; level > 0; level--)
        {
            float* row = block;
            for (int r = 0; r < count; r++, row += m) cur[r] = Step(nodes, cur[r], row);
        }
    }

    /// <summary>
    /// <see cref="WalkLockstep"/> for eight rows at a time with AVX2 gathers (node fields and the rows' feature
    /// values); the same two compares, so the same leaves. A group stops once all eight rows are at leaves, so deep,
    /// unbalanced forest trees cost the longest of eight paths, not the tree's depth. Returns how many rows it
    /// walked (a multiple of 8).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe int WalkLockstepAvx2(Node* nodes, Node top, int depth, float* block, int m, int count, int* cur)
    {
        int full = count & ~7;
        int* fields = (int*)nodes;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * m;
        var featureMask = Vector256.Create(int.MaxValue);
        var one = Vector256<int>.One;
        var rootThreshold = Vector256.Create(top.Threshold);
        var rootChild = Vector256.Create(top.Child + 1);
        var rootFeature = Vector256.Create(top.FeatureAndDefault & int.MaxValue);
        var rootDefault = Vector256.Create(top.FeatureAndDefault >> 31);
        for (int r = 0; r < full; r += 8)
        {
            float* rows = block + (long)r * m;
            var x = Avx2.GatherVector256(rows, lane + rootFeature, 4);
            var node = rootChild + GoLeftMask(x, rootThreshold, rootDefault);
            for (int level = depth - 1; level > 0; level--)
            {
                var at = node * 4; // Node is four ints
                var child = Avx2.GatherVector256(fields, at, 4);
                var threshold = Avx2.GatherVector256((float*)fields + 1, at, 4);
                var fd = Avx2.GatherVector256(fields + 2, at, 4);
                x = Avx2.GatherVector256(rows, lane + (fd & featureMask), 4);
                var next = child + one + GoLeftMask(x, threshold, Avx2.ShiftRightArithmetic(fd, 31));
                // All eight rows at leaves (which point at themselves): the remaining levels would change nothing.
                if (next == node) break;
                node = next;
            }
            node.Store(cur + r);
        }
        return full;
    }

    /// <summary>-1 where the row goes left (x &lt; t, or x NaN and defaultLeft is -1), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> GoLeftMask(Vector256<float> x, Vector256<float> t, Vector256<int> defaultLeft)
    {
        var lt = Avx.Compare(x, t, FloatComparisonMode.OrderedLessThanNonSignaling).AsInt32();
        var notGe = Avx.Compare(x, t, FloatComparisonMode.UnorderedNotGreaterThanOrEqualNonSignaling).AsInt32();
        return lt | (notGe & defaultLeft);
    }

    /// <summary>dst[r * stride] += scale * value of leaf cur[r], for single-value leaves (boosting).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void AddLeafValues(Node* nodes, double* values, int* cur, int count, double* dst, int stride, double scale)
    {
        for (int r = 0; r < count; r++, dst += stride) *dst += scale * values[nodes[cur[r]].Value];
    }

    /// <summary>One step down: left when x &lt; threshold, or when x is NaN and the default is left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int Step(Node* nodes, int node, float* row)
    {
        Node* nd = nodes + node;
        int fd = nd->FeatureAndDefault;
        float v = row[fd & int.MaxValue];
        float t = nd->Threshold;
        // Both compares are false for NaN (and, at a leaf, for any v), so NaN goes left exactly when DefaultLeft.
        int lt = v < t ? 1 : 0;
        int notGe = v >= t ? 0 : 1;
        int left = lt | (notGe & (int)((uint)fd >> 31));
        return nd->Child + 1 - left;
    }
}
