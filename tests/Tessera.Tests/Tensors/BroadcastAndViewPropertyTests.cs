using FsCheck.Xunit;
using Tessera.Graphs;

namespace Tessera.Tests.Tensors;

/// <summary>
/// NumPy semantics over random shapes: broadcasting (align right; equal or 1) and views (permute, slice with step,
/// expand, reshape of contiguous data) checked element by element against index arithmetic written from the rules.
/// </summary>
public class BroadcastAndViewPropertyTests
{
    private static int[] RandomShape(Random rng, int maxRank = 4) =>
        [.. Enumerable.Range(0, rng.Next(maxRank + 1)).Select(_ => rng.Next(1, 5))];

    /// <summary>A shape that broadcasts with <paramref name="a"/>: a suffix of it with some dims set to 1.</summary>
    private static int[] CompatibleShape(Random rng, int[] a)
    {
        int drop = rng.Next(a.Length + 1);
        return [.. a.Skip(drop).Select(d => rng.Next(3) == 0 ? 1 : d)];
    }

    /// <summary>Element of t at the broadcast position <paramref name="outIndex"/> (NumPy rule, by hand).</summary>
    private static double AtBroadcast(Tensor t, int[] outIndex)
    {
        int lead = outIndex.Length - t.Rank;
        int flat = 0;
        for (int d = 0; d < t.Rank; d++)
            flat = flat * t.Shape[d] + (t.Shape[d] == 1 ? 0 : outIndex[d + lead]);
        return t.GetDouble(flat);
    }

    private static IEnumerable<int[]> Indices(int[] shape)
    {
        int n = ShapeMath.Count(shape);
        for (int f = 0; f < n; f++)
        {
            var idx = new int[shape.Length];
            int r = f;
            for (int d = shape.Length - 1; d >= 0; d--) { idx[d] = r % shape[d]; r /= shape[d]; }
            yield return idx;
        }
    }

    [Property(MaxTest = 300)]
    public bool Broadcast_add_matches_numpy_rules(int seed)
    {
        var rng = new Random(seed);
        var sa = RandomShape(rng);
        var sb = CompatibleShape(rng, sa);
        if (rng.Next(2) == 0) (sa, sb) = (sb, sa);
        var a = Tensor.RandomUniform(seed, DType.Float64, -5, 5, sa);
        var b = Tensor.RandomUniform(seed + 1, DType.Float64, -5, 5, sb);

        var g = new Graph();
        var na = g.Constant(a);
        var nb = g.Constant(b);
        var y = Ops.Add(na, nb);
        using var m = new TapeMachine(g);
        m.RunAll();

        int rank = Math.Max(sa.Length, sb.Length);
        var expectedShape = Enumerable.Range(0, rank).Select(i =>
        {
            int da = i < rank - sa.Length ? 1 : sa[i - (rank - sa.Length)];
            int db = i < rank - sb.Length ? 1 : sb[i - (rank - sb.Length)];
            return Math.Max(da, db);
        }).ToArray();
        if (!y.Value!.Shape.SequenceEqual(expectedShape)) return false;
        int k = 0;
        foreach (var idx in Indices(expectedShape))
            if (y.Value.GetDouble(k++) != AtBroadcast(a, idx) + AtBroadcast(b, idx)) return false;
        return true;
    }

    [Property(MaxTest = 200)]
    public bool Incompatible_shapes_throw_naming_both(int seed)
    {
        var rng = new Random(seed);
        var sa = RandomShape(rng);
        if (sa.Length == 0) sa = [2];
        var sb = (int[])sa.Clone();
        int axis = rng.Next(sa.Length);
        sa[axis] = Math.Max(sa[axis], 2);
        sb[axis] = sa[axis] + 1;
        var g = new Graph();
        var e = Record.Exception(() => Ops.Mul(g.Input(DType.Float32, sa), g.Input(DType.Float32, sb)));
        return e is ShapeMismatchException sm && sm.Message.Contains("Mul")
            && sm.Message.Contains(ShapeMath.Format(sa)) && sm.Message.Contains(ShapeMath.Format(sb));
    }

    [Property(MaxTest = 300)]
    public bool Permute_slice_expand_views_match_index_arithmetic(int seed)
    {
        var rng = new Random(seed);
        var shape = RandomShape(rng);
        if (shape.Length == 0) shape = [3];
        var baseT = Tensor.RandomUniform(seed, DType.Float64, -1, 1, shape);
        int rank = shape.Length;

        // permute
        var perm = Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).ToArray();
        var p = baseT.Permute(perm);
        foreach (var idx in Indices(p.ShapeArray()))
        {
            var src = new int[rank];
            for (int i = 0; i < rank; i++) src[perm[i]] = idx[i];
            if (p.Get<double>(idx) != baseT.Get<double>(src)) return false;
        }

        // slice with a step on a random axis, python semantics
        int ax = rng.Next(rank), size = p.Shape[ax];
        int start = rng.Next(-size, size), end = rng.Next(-size, size + 1), step = rng.Next(1, 3);
        var s = p.Slice(ax, start, end, step);
        int s0 = Math.Clamp(start < 0 ? start + size : start, 0, size), e0 = Math.Clamp(end < 0 ? end + size : end, s0, size);
        int expectedLen = Enumerable.Range(s0, Math.Max(0, e0 - s0)).Count(i => (i - s0) % step == 0);
        if (s.Shape[ax] != expectedLen) return false;
        foreach (var idx in Indices(s.ShapeArray()))
        {
            var src = (int[])idx.Clone();
            src[ax] = s0 + idx[ax] * step;
            if (s.Get<double>(idx) != p.Get<double>(src)) return false;
        }

        // expand: insert a new leading axis and stretch every size-1 axis
        var target = new[] { 2 }.Concat(s.ShapeArray().Select(d => d == 1 ? 3 : d)).ToArray();
        var ex = s.Expand(target);
        foreach (var idx in Indices(target))
        {
            var src = idx.Skip(1).Select((v, i) => s.Shape[i] == 1 ? 0 : v).ToArray();
            if (ex.Get<double>(idx) != s.Get<double>(src)) return false;
        }

        // contiguous materialization keeps row-major order, and reshape of it is a view
        var c = ex.Contiguous();
        int k = 0;
        foreach (var idx in Indices(target))
            if (c.GetDouble(k++) != ex.Get<double>(idx)) return false;
        var r = c.Reshape(-1);
        return ReferenceEquals(r.Storage, c.Storage) && r.ToDoubleArray().SequenceEqual(c.ToDoubleArray());
    }
}
