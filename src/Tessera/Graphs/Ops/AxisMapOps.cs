using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Ops whose output element is an input element picked independently along each axis (ONNX Slice with any step,
/// Tile, Pad in constant/edge/reflect mode). Each supplies its per-axis index maps; one kernel copies.
/// </summary>
public abstract class AxisMapOp : Operation
{
    /// <summary>Per-axis maps from output index to input index (−1 = fill) for an input of this shape.</summary>
    protected abstract int[][] Maps(int[] x);
    protected virtual double FillValue => 0;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var x = inputs[0].Shape;
        if (!inputs[0].IsFullyKnown) return new TensorType(inputs[0].DType, UnknownShape(x));
        return new TensorType(inputs[0].DType, [.. Maps(x).Select(m => m.Length)]);
    }

    /// <summary>The output shape when some input dims are unknown at build time.</summary>
    protected virtual int[] UnknownShape(int[] x) => [.. x.Select(_ => -1)];

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) =>
        AxisMapKernel.Run(inputs[0], Maps(inputs[0].ShapeArray()), FillValue, output);
}

/// <summary>ONNX Slice: per-axis start, end and step (negative steps walk backwards), clamped as ONNX specifies.</summary>
public sealed class StridedSliceOp : AxisMapOp
{
    public long[] Starts { get; }
    public long[] Ends { get; }
    public int[] Axes { get; }
    public long[] Steps { get; }
    public override string Name => "Slice";

    public StridedSliceOp(long[] starts, long[] ends, int[]? axes = null, long[]? steps = null)
    {
        if (starts.Length != ends.Length) throw new ArgumentException($"Slice: {starts.Length} starts but {ends.Length} ends.");
        axes ??= [.. Enumerable.Range(0, starts.Length)];
        steps ??= [.. starts.Select(_ => 1L)];
        if (axes.Length != starts.Length || steps.Length != starts.Length)
            throw new ArgumentException($"Slice: starts, ends, axes and steps must have one entry per sliced axis ({starts.Length}, {ends.Length}, {axes.Length}, {steps.Length}).");
        if (steps.Any(s => s == 0)) throw new ArgumentException("Slice: a step of 0 is not allowed.");
        Starts = starts; Ends = ends; Axes = axes; Steps = steps;
    }

    protected override int[] UnknownShape(int[] x)
    {
        var r = (int[])x.Clone();
        foreach (var a in Axes) r[ShapeMath.NormalizeAxis(a, x.Length, Name)] = -1;
        return r;
    }

    protected override int[][] Maps(int[] x)
    {
        var maps = new int[x.Length][];
        for (int d = 0; d < x.Length; d++) maps[d] = Identity(x[d]);
        var seen = new bool[x.Length];
        for (int i = 0; i < Axes.Length; i++)
        {
            int a = ShapeMath.NormalizeAxis(Axes[i], x.Length, Name);
            if (seen[a]) throw new ArgumentException($"{Name}: axis {Axes[i]} is repeated.");
            seen[a] = true;
            long n = x[a], step = Steps[i];
            long s = Starts[i] < 0 ? Starts[i] + n : Starts[i];
            long e = Ends[i] < 0 ? Ends[i] + n : Ends[i];
            if (step > 0) { s = Math.Clamp(s, 0, n); e = Math.Clamp(e, 0, n); }
            else { s = Math.Clamp(s, 0, n - 1); e = Math.Clamp(e, -1, n - 1); }
            long count = step > 0 ? Math.Max(0, (e - s + step - 1) / step) : Math.Max(0, (s - e + (-step) - 1) / -step);
            var m = new int[count];
            for (long k = 0; k < count; k++) m[k] = (int)(s + k * step);
            maps[a] = m;
        }
        return maps;
    }

    internal static int[] Identity(int n) { var m = new int[n]; for (int i = 0; i < n; i++) m[i] = i; return m; }
}

/// <summary>ONNX Tile: repeats the input <c>repeats[d]</c> times along each axis.</summary>
public sealed class TileOp(long[] repeats) : AxisMapOp
{
    public long[] Repeats { get; } = repeats;
    public override string Name => "Tile";

    protected override int[][] Maps(int[] x)
    {
        if (Repeats.Length != x.Length) throw new ShapeMismatchException(Name, $"{Repeats.Length} repeats for input of shape {ShapeMath.Format(x)}");
        if (Repeats.Any(r => r < 0)) throw new ArgumentException($"{Name}: repeats must be ≥ 0, got ({string.Join(", ", Repeats)}).");
        var maps = new int[x.Length][];
        for (int d = 0; d < x.Length; d++)
        {
            long len = x[d] * Repeats[d];
            if (len > ShapeLimits.MaxDimension) throw new ArgumentException($"{Name}: axis {d} would have {len} elements.");
            var m = maps[d] = new int[len];
            for (int i = 0; i < m.Length; i++) m[i] = i % x[d];
        }
        return maps;
    }
}

/// <summary>How <see cref="PadModeOp"/> fills the border.</summary>
public enum PadMode { Constant, Edge, Reflect, Wrap }

/// <summary>ONNX Pad: pads = [begin₀, …, end₀, …] (negative pads crop); constant, edge, reflect or wrap (circular) filling.</summary>
public sealed class PadModeOp(long[] pads, PadMode mode, double value) : AxisMapOp
{
    public long[] Pads { get; } = pads;
    public PadMode Mode { get; } = mode;
    public double Value { get; } = value;
    public override string Name => "Pad";
    protected override double FillValue => Value;

    protected override int[][] Maps(int[] x)
    {
        int r = x.Length;
        if (Pads.Length != 2 * r) throw new ShapeMismatchException(Name, $"{Pads.Length} pads for input of shape {ShapeMath.Format(x)} (expected {2 * r})");
        var maps = new int[r][];
        for (int d = 0; d < r; d++)
        {
            long b = Pads[d], e = Pads[d + r], n = x[d], len = n + b + e;
            if (len < 0 || len > ShapeLimits.MaxDimension) throw new ShapeMismatchException(Name, $"pads ({string.Join(", ", Pads)}) give axis {d} of {ShapeMath.Format(x)} a size of {len}");
            if (n == 0 && len > 0 && Mode != PadMode.Constant) throw new ShapeMismatchException(Name, $"cannot {Mode.ToString().ToLowerInvariant()}-pad an empty axis {d}");
            long lo = Math.Max(0, -b), hi = n - Math.Max(0, -e);
            if (Mode == PadMode.Wrap && hi <= lo && len > 0) throw new ShapeMismatchException(Name, $"cannot wrap-pad axis {d}: pads ({string.Join(", ", Pads)}) crop it to nothing");
            var m = maps[d] = new int[len];
            for (long i = 0; i < len; i++)
            {
                long j = i - b;
                if (j >= 0 && j < n) { m[i] = (int)j; continue; }
                m[i] = Mode switch
                {
                    PadMode.Edge => (int)Math.Clamp(j, 0, n - 1),
                    PadMode.Reflect => Reflect(j, n),
                    // Negative pads crop first; wrap then repeats the cropped axis [lo, hi), as the ONNX reference does.
                    PadMode.Wrap => (int)(lo + ((j - lo) % (hi - lo) + (hi - lo)) % (hi - lo)),
                    _ => -1,
                };
            }
        }
        return maps;
    }

    private static int Reflect(long j, long n)
    {
        if (n == 1) return 0;
        long period = 2 * (n - 1);
        j = ((j % period) + period) % period;
        return (int)(j < n ? j : period - j);
    }
}

/// <summary>Size limits that keep corrupted or hostile models from asking for absurd allocations.</summary>
public static class ShapeLimits
{
    /// <summary>The most elements one axis may get from a shape computed out of tensor values.</summary>
    public const long MaxDimension = 1L << 28;
}
