using Tessera.Graphs;

namespace Tessera.Onnx;

/// <summary>
/// What is known at import time of the small integer vectors a model computes shapes with. An exporter with a
/// dynamic batch axis writes <c>x.view(n, 2, c/2, h, w)</c> as Shape(x) → Gather → Unsqueeze → Concat → Reshape:
/// nothing there is a constant (the batch is unknown), so the Reshape's result — and every convolution after it —
/// had an unknown shape, and shape-specific rewrites (channel-blocked convolutions) skipped them. Tracking each
/// element separately (null = unknown) recovers what the static shapes do say: Gather(Shape(x), 1) is x's channel
/// count, which the importer then makes a constant, and Reshape learns every dimension but the batch.
/// </summary>
/// <remarks>
/// Sound by construction: every known element comes from a constant or a static dimension that the executor
/// enforces on the inputs. Covers the ops exporters use for this (Shape, Gather on axis 0, Unsqueeze, Squeeze,
/// Reshape, Cast between integer types, Concat on axis 0, Add/Sub/Mul/Div); anything else is unknown.
/// </remarks>
internal sealed class ShapeValues
{
    /// <summary>Vectors longer than this are data, not shapes.</summary>
    private const int MaxLength = 64;

    private readonly Dictionary<Node, long?[]?> _memo = [];

    /// <summary>The elements of <paramref name="n"/> (null where unknown), or null if nothing is known or it is no shape vector.</summary>
    public long?[]? Of(Node n)
    {
        if (_memo.TryGetValue(n, out var v)) return v;
        v = Compute(n);
        _memo[n] = v;
        return v;
    }

    /// <summary>All elements of <paramref name="n"/> when every one is known, else null.</summary>
    public long[]? Known(Node n) => Of(n) is { } v && v.All(e => e.HasValue) ? [.. v.Select(e => e!.Value)] : null;

    private static bool IsInteger(DType d) => d is DType.Int64 or DType.Int32;

    private long?[]? Compute(Node n)
    {
        if (n.Rank > 1 || !IsInteger(n.DType)) return null;
        if (n.Kind == NodeKind.Constant)
            return n.Value!.Length <= MaxLength ? [.. OnnxNodeContext.Longs(n.Value).Select(e => (long?)e)] : null;
        if (n.Kind != NodeKind.Operation) return null;
        var ins = n.Inputs;
        switch (n.Operation)
        {
            case ShapeOfOp s:
            {
                var x = ins[0];
                var (start, end) = s.Range(x.Rank);
                return [.. x.Shape[start..end].Select(d => d >= 0 ? (long?)d : null)];
            }
            case GatherOp g when ins[0].Rank == 1 && g.Axis is 0 or -1:
            {
                if (Of(ins[0]) is not { } data || Known(ins[1]) is not { } index) return null;
                var r = new long?[index.Length];
                for (int i = 0; i < r.Length; i++)
                {
                    long j = index[i] < 0 ? index[i] + data.Length : index[i];
                    if ((ulong)j >= (ulong)data.Length) return null;   // the op itself reports the bad index at run time
                    r[i] = data[j];
                }
                return r;
            }
            case UnsqueezeOp or SqueezeOp or ReshapeToOp:
                return Of(ins[0]);
            case CastOp when IsInteger(ins[0].DType):
                return Of(ins[0]);
            case ConcatOp when n.Rank == 1:
            {
                var parts = new List<long?>();
                foreach (var part in ins)
                {
                    if (Of(part) is { } p) parts.AddRange(p);
                    else if (part.Rank == 1 && part.Shape[0] >= 0) parts.AddRange(new long?[part.Shape[0]]);
                    else return null;
                }
                return parts.Count <= MaxLength ? [.. parts] : null;
            }
            case AddOp: return Elementwise(ins, (a, b) => a + b);
            case SubOp: return Elementwise(ins, (a, b) => a - b);
            case MulOp: return Elementwise(ins, (a, b) => a * b);
            case DivOp: return Elementwise(ins, (a, b) => b == 0 ? null : a / b);   // integer division truncates, as the op does
        }
        return null;
    }

    private long?[]? Elementwise(IReadOnlyList<Node> ins, Func<long, long, long?> f)
    {
        if (Of(ins[0]) is not { } a || Of(ins[1]) is not { } b) return null;
        if (a.Length != b.Length && a.Length != 1 && b.Length != 1) return null;
        var r = new long?[Math.Max(a.Length, b.Length)];
        for (int i = 0; i < r.Length; i++)
        {
            long? x = a[a.Length == 1 ? 0 : i], y = b[b.Length == 1 ? 0 : i];
            r[i] = x is { } u && y is { } v ? f(u, v) : null;
        }
        return r;
    }

    /// <summary>
    /// Reshape's result type from the partly known target: known elements as they are, 0 copies the input's
    /// dimension (unless <paramref name="allowZero"/>), a lone −1 is solved when everything else is known.
    /// </summary>
    public static TensorType ReshapeType(TensorType x, long?[] target, bool allowZero)
    {
        var dims = new int[target.Length];
        int infer = -1;
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = target[i] switch
            {
                null => -1,
                0 when !allowZero => i < x.Rank ? x.Shape[i] : -1,
                -1 => -1,
                { } v when v >= 0 && v <= int.MaxValue => (int)v,
                _ => -1,
            };
            if (target[i] == -1) infer = i;
        }
        if (infer >= 0 && x.IsFullyKnown && dims.Count(d => d < 0) == 1)
        {
            long rest = 1;
            for (int i = 0; i < dims.Length; i++) if (i != infer) rest *= dims[i];
            long total = ShapeMath.Count(x.Shape);
            if (rest > 0 && total % rest == 0 && total / rest <= int.MaxValue) dims[infer] = (int)(total / rest);
        }
        return new TensorType(x.DType, dims);
    }
}
