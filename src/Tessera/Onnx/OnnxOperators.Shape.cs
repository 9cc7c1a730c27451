using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

public static partial class OnnxOperators
{
    private static TensorType Unknown(DType dtype, int rank) => new(dtype, [.. Enumerable.Repeat(-1, Math.Max(rank, 0))]);

    /// <summary>Length of a 1-D parameter input known from its static shape (-1 when unknown).</summary>
    private static int VectorLength(TensorType t) => t.Rank == 1 ? t.Shape[0] : t.Rank == 0 ? 1 : -1;

    private static void AddShape(Dictionary<string, OnnxOpBuilder> t)
    {
        t["Identity"] = c => c.Required(0).Type.IsTensor ? One(ExpandLike(c.Required(0), c.Required(0))) : One(c.Graph.Apply(new ValueIdentityOp(), c.Required(0)));
        t["Dropout"] = c =>
        {
            var x = c.Required(0);
            if (c.Input(2) is not null && !(c.ConstantInput(2) is { } tv && tv.ToScalar() == 0))
            {
                // training_mode (and ratio) known only at run time: identity unless asked to drop at random.
                Node[] args = [.. Enumerable.Range(0, 3).Select(i => c.Input(i) ?? c.Graph.Constant(Tensor.Zeros(DType.Float32, 0)))];
                return [c.Graph.Apply(new InferenceDropoutOp(0), args), c.Graph.Apply(new InferenceDropoutOp(1), args)];
            }
            var y = ExpandLike(x, x);
            return [y, c.Graph.Apply(new ElementTestOp(ElementTest.Not), Cast(ZerosLike(x), DType.Bool))];
        };
        t["Constant"] = c =>
        {
            if (c.TensorAttr("value") is { } v) return One(c.Graph.Constant(v));
            if (c.Has("value_float")) return One(c.Graph.Constant(Tensor.Scalar(c.Float("value_float", 0))));
            if (c.Has("value_int")) return One(c.Graph.Constant(Tensor.Scalar(c.Int("value_int", 0))));
            if (c.Floats("value_floats") is { } fs) return One(c.Graph.Constant(Tensor.FromArray(fs, fs.Length)));
            if (c.Ints("value_ints") is { } ls) return One(c.Graph.Constant(Tensor.FromArray(ls, ls.Length)));
            throw c.Unsupported("a constant that is not a dense numeric tensor");
        };
        t["Cast"] = c => One(Cast(c.Required(0), DTypeAttr(c, "to", DType.Float32)));
        t["CastLike"] = c => One(Cast(c.Required(0), c.Required(1).DType));
        t["Shape"] = c =>
        {
            var x = c.Required(0);
            int? start = c.Has("start") ? (int)c.Int("start", 0) : null, end = c.Has("end") ? (int)c.Int("end", 0) : null;
            var node = c.Graph.Apply(new ShapeOfOp(start, end), x);
            return One(x.Type.IsFullyKnown ? c.Graph.Constant(EvaluateShape(x.Shape, start, end)) : node);
        };
        t["Size"] = c =>
        {
            var x = c.Required(0);
            return One(x.Type.IsFullyKnown ? c.Graph.Constant(Tensor.Scalar((long)ShapeMath.Count(x.Shape))) : c.Graph.Apply(new SizeOp(), x));
        };
        t["Reshape"] = c =>
        {
            var x = c.Required(0);
            bool allowZero = c.Int("allowzero", 0) != 0;
            if (c.Opset < 5) return One(c.Graph.Apply(new ReshapeToOp(c.Ints("shape") ?? [], allowZero), x));
            var shape = c.Required(1);
            // A target computed at run time (from a dynamic batch) often has every other element known statically.
            var known = c.ShapeValues?.Of(shape);
            return One(c.Bind("Reshape", [x], [shape], v => new ReshapeToOp(OnnxNodeContext.Longs(v[0]), allowZero),
                (d, p) => known is not null && known.Length == VectorLength(p[0]) ? ShapeValues.ReshapeType(d[0], known, allowZero)
                    : Unknown(d[0].DType, VectorLength(p[0])), isView: true));
        };
        t["Flatten"] = c => One(c.Graph.Apply(new FlattenOp((int)c.Int("axis", 1)), c.Required(0)));
        t["Transpose"] = c =>
        {
            var x = c.Required(0);
            var perm = c.Int32s("perm") ?? [.. Enumerable.Range(0, x.Rank).Reverse()];
            return One(Permute(x, perm));
        };
        t["Squeeze"] = c =>
        {
            var x = c.Required(0);
            if (c.Opset < 13 || c.Input(1) is null)
            {
                var axes = c.Int32s("axes");
                if (axes is null)
                {
                    if (!x.Type.IsFullyKnown) throw c.Unsupported("squeezing all size-1 axes of an input whose shape is unknown");
                    axes = [.. Enumerable.Range(0, x.Rank).Where(d => x.Shape[d] == 1)];
                }
                return One(Squeeze(x, axes));
            }
            return One(c.Bind("Squeeze", [x], [c.Required(1)], v => new SqueezeOp(OnnxNodeContext.Int32Values(v[0])),
                (d, p) => Unknown(d[0].DType, d[0].Rank - VectorLength(p[0])), isView: true));
        };
        t["Unsqueeze"] = c =>
        {
            var x = c.Required(0);
            if (c.Opset < 13) return One(Unsqueeze(x, c.Int32s("axes") ?? throw c.Error("attribute 'axes' is required")));
            return One(c.Bind("Unsqueeze", [x], [c.Required(1)], v => new UnsqueezeOp(OnnxNodeContext.Int32Values(v[0])),
                (d, p) => Unknown(d[0].DType, d[0].Rank + VectorLength(p[0])), isView: true));
        };
        t["Concat"] = c =>
        {
            var xs = Enumerable.Range(0, c.InputCount).Select(c.Input).OfType<Node>().ToArray();
            return One(Concat((int)c.Int("axis", 0), xs));
        };
        t["Split"] = c =>
        {
            var x = c.Required(0);
            int axis = ShapeMath.NormalizeAxis((int)c.Int("axis", 0), x.Rank, "Split");
            int n = x.Shape[axis];
            int parts = c.OutputCount;
            long[]? sizes = c.Opset < 13 ? c.Ints("split") : c.Input(1) is null ? null
                : c.ConstantInput(1) is { } sv ? OnnxNodeContext.Longs(sv) : null;
            if (sizes is null && c.Input(1) is { } splitNode && c.Opset >= 13)
            {
                // Split sizes known only at run time: each piece is a slice bound to the cumulative sizes.
                var pieces = new Node[parts];
                for (int i = 0; i < parts; i++)
                {
                    int piece = i;
                    pieces[i] = c.Bind("Split", [x], [splitNode], v =>
                    {
                        var s = OnnxNodeContext.Longs(v[0]);
                        long off = s.Take(piece).Sum();
                        return new StridedSliceOp([off], [off + s[piece]], [axis]);
                    }, (d, _) => Unknown(d[0].DType, d[0].Rank));
                }
                return pieces;
            }
            if (sizes is null)
            {
                if (n < 0) throw c.Unsupported("an equal split of an axis whose size is unknown");
                int size = (n + parts - 1) / parts;
                sizes = [.. Enumerable.Range(0, parts).Select(i => (long)Math.Clamp(n - i * size, 0, size))];
            }
            var result = new Node[sizes.Length];
            long off = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                result[i] = c.Graph.Apply(new StridedSliceOp([off], [off + sizes[i]], [axis]), x);
                off += sizes[i];
            }
            return result;
        };
        t["Slice"] = c =>
        {
            var x = c.Required(0);
            if (c.Opset < 10)
            {
                var starts = c.Ints("starts") ?? throw c.Error("attribute 'starts' is required");
                var ends = c.Ints("ends") ?? throw c.Error("attribute 'ends' is required");
                return One(c.Graph.Apply(new StridedSliceOp(starts, ends, c.Int32s("axes")), x));
            }
            Node? axesNode = c.Input(3), stepsNode = c.Input(4);
            var ps = new List<Node> { c.Required(1), c.Required(2) };
            if (axesNode is not null) ps.Add(axesNode);
            if (stepsNode is not null) ps.Add(stepsNode);
            return One(c.Bind("Slice", [x], [.. ps], v =>
            {
                int k = 2;
                var axes = axesNode is null ? null : OnnxNodeContext.Int32Values(v[k++]);
                var steps = stepsNode is null ? null : OnnxNodeContext.Longs(v[k]);
                return new StridedSliceOp(OnnxNodeContext.Longs(v[0]), OnnxNodeContext.Longs(v[1]), axes, steps);
            }, (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
        t["Gather"] = c => One(Gather(c.Required(0), c.Required(1), (int)c.Int("axis", 0)));
        t["GatherElements"] = c => One(c.Graph.Apply(new GatherElementsOp((int)c.Int("axis", 0)), c.Required(0), c.Required(1)));
        t["GatherND"] = c => One(c.Graph.Apply(new GatherNdOp((int)c.Int("batch_dims", 0)), c.Required(0), c.Required(1)));
        t["ScatterElements"] = c => One(c.Graph.Apply(new ScatterElementsOp((int)c.Int("axis", 0), Reduction(c)), c.Required(0), c.Required(1), c.Required(2)));
        t["Scatter"] = c => One(c.Graph.Apply(new ScatterElementsOp((int)c.Int("axis", 0), ScatterReduction.None), c.Required(0), c.Required(1), c.Required(2)));
        t["ScatterND"] = c => One(c.Graph.Apply(new ScatterNdOp(Reduction(c)), c.Required(0), c.Required(1), c.Required(2)));
        t["Expand"] = c =>
        {
            var x = c.Required(0);
            return One(c.Bind("Expand", [x], [c.Required(1)], v => new BroadcastToOp(OnnxNodeContext.Int32Values(v[0])),
                (d, p) => Unknown(d[0].DType, Math.Max(d[0].Rank, VectorLength(p[0]))), isView: true));
        };
        t["Tile"] = c =>
        {
            var x = c.Required(0);
            return One(c.Bind("Tile", [x], [c.Required(1)], v => new TileOp(OnnxNodeContext.Longs(v[0])), (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
        t["Pad"] = c =>
        {
            var x = c.Required(0);
            var mode = c.String("mode", "constant") switch
            {
                "constant" => PadMode.Constant,
                "edge" => PadMode.Edge,
                "reflect" => PadMode.Reflect,
                "wrap" when c.Opset >= 19 => PadMode.Wrap,
                var m => throw c.Unsupported($"pad mode '{m}'"),
            };
            if (c.Opset < 11)
                return One(c.Graph.Apply(new PadModeOp(c.Ints("pads") ?? c.Ints("paddings") ?? [], mode, c.Float("value", 0)), x));
            // PyTorch exports AvgPool2d with a Pad of all-zero pads in front: nothing to copy.
            if (c.ConstantInput(1) is { } pads && OnnxNodeContext.Longs(pads).All(p => p == 0) && c.Input(3) is null) return One(x);
            var ps = new List<Node> { c.Required(1) };
            if (c.Input(2) is { } value) ps.Add(value);
            if (c.Input(3) is not null) throw c.Unsupported("the axes input");
            return One(c.Bind("Pad", [x], [.. ps], v => new PadModeOp(OnnxNodeContext.Longs(v[0]), mode, v.Length > 1 && v[1].Length > 0 ? v[1].GetDouble(0) : 0),
                (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
        t["ConstantOfShape"] = c =>
        {
            var value = c.TensorAttr("value") ?? Tensor.Scalar(0f);
            double v0 = value.Length > 0 ? value.GetDouble(0) : 0;
            return One(c.Bind("ConstantOfShape", [], [c.Required(0)], v => new FillOp(OnnxNodeContext.Int32Values(v[0]), v0, value.DType),
                (_, p) => Unknown(value.DType, VectorLength(p[0]))));
        };
        t["Range"] = c =>
        {
            var start = c.Required(0);
            return One(c.Bind("Range", [], [start, c.Required(1), c.Required(2)],
                v => new RangeOp(v[0].ToScalar(), v[1].ToScalar(), v[2].ToScalar(), start.DType), (_, _) => Unknown(start.DType, 1)));
        };
        t["EyeLike"] = c => One(c.Graph.Apply(new EyeLikeOp((int)c.Int("k", 0), DTypeAttr(c, "dtype", c.Required(0).DType)), c.Required(0)));
        t["NonZero"] = c => One(c.Graph.Apply(new NonZeroOp(), c.Required(0)));
        t["Compress"] = c =>
        {
            var x = c.Required(0);
            var cond = c.Graph.Apply(new NonZeroOp(), c.Required(1));
            var idx = Squeeze(cond, 0);
            if (!c.Has("axis")) return One(Gather(Reshape(x, -1), idx, 0));
            return One(Gather(x, idx, (int)c.Int("axis", 0)));
        };
        t["OneHot"] = c =>
        {
            var ind = c.Required(0); var values = c.Required(2);
            int axis = (int)c.Int("axis", -1);
            return One(c.Bind("OneHot", [ind], [c.Required(1), values],
                v => new OneHotOp((int)v[0].ToScalar(), values.DType, axis, v[1].GetDouble(0), v[1].GetDouble(1), onnx: true),
                (d, _) => Unknown(values.DType, d[0].Rank + 1)));
        };
        t["CumSum"] = c =>
        {
            var x = c.Required(0);
            bool exclusive = c.Int("exclusive", 0) != 0, reverse = c.Int("reverse", 0) != 0;
            return One(c.Bind("CumSum", [x], [c.Required(1)], v => new CumSumOp((int)v[0].ToScalar(), exclusive, reverse), (d, _) => d[0]));
        };
        t["Trilu"] = c =>
        {
            var x = c.Required(0);
            bool upper = c.Int("upper", 1) != 0;
            if (c.Input(1) is null) return One(c.Graph.Apply(new TriluOp(upper, 0), x));
            return One(c.Bind("Trilu", [x], [c.Required(1)], v => new TriluOp(upper, (long)v[0].ToScalar()), (d, _) => d[0]));
        };
        t["TopK"] = c =>
        {
            var x = c.Required(0);
            int axis = (int)c.Int("axis", -1);
            bool largest = c.Int("largest", 1) != 0, sorted = c.Int("sorted", 1) != 0;
            if (c.Opset < 10)
            {
                int k = (int)c.Int("k", 0);
                return [c.Graph.Apply(new TopKOp(k, axis, largest, sorted, 0), x), c.Graph.Apply(new TopKOp(k, axis, largest, sorted, 1), x)];
            }
            var kn = c.Required(1);
            return [.. new[] { 0, 1 }.Select(o => c.Bind("TopK", [x], [kn], v => new TopKOp((int)v[0].ToScalar(), axis, largest, sorted, o),
                (d, _) => Unknown(o == 0 ? d[0].DType : DType.Int64, d[0].Rank)))];
        };
        t["DepthToSpace"] = c =>
        {
            var x = c.Required(0);
            int b = (int)c.Int("blocksize", 1);
            var (n, ch, h, w) = Dims4(c, x);
            bool crd = c.String("mode", "DCR") == "CRD";
            var r = crd ? Reshape(x, n, ch / (b * b), b, b, h, w) : Reshape(x, n, b, b, ch / (b * b), h, w);
            var p = crd ? Permute(r, 0, 1, 4, 2, 5, 3) : Permute(r, 0, 3, 4, 1, 5, 2);
            return One(Reshape(p, n, ch / (b * b), h * b, w * b));
        };
        t["SpaceToDepth"] = c =>
        {
            var x = c.Required(0);
            int b = (int)c.Int("blocksize", 1);
            var (n, ch, h, w) = Dims4(c, x);
            var r = Reshape(x, n, ch, h / b, b, w / b, b);
            return One(Reshape(Permute(r, 0, 3, 5, 1, 2, 4), n, ch * b * b, h / b, w / b));
        };
    }

    private static (int, int, int, int) Dims4(OnnxNodeContext c, Node x)
    {
        if (x.Rank != 4 || !x.Type.IsFullyKnown) throw c.Unsupported($"input of shape {ShapeMath.Format(x.Shape)} (needs a known 4-D shape)");
        return (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
    }

    private static ScatterReduction Reduction(OnnxNodeContext c) => c.String("reduction", "none") switch
    {
        "none" => ScatterReduction.None,
        "add" => ScatterReduction.Add,
        "mul" => ScatterReduction.Mul,
        "max" => ScatterReduction.Max,
        "min" => ScatterReduction.Min,
        var r => throw c.Unsupported($"reduction '{r}'"),
    };

    private static Tensor EvaluateShape(int[] shape, int? start, int? end)
    {
        int rank = shape.Length, s = start ?? 0, e = end ?? rank;
        if (s < 0) s += rank;
        if (e < 0) e += rank;
        s = Math.Clamp(s, 0, rank); e = Math.Clamp(e, s, rank);
        var v = new long[e - s];
        for (int i = 0; i < v.Length; i++) v[i] = shape[s + i];
        return Tensor.FromArray(v, v.Length);
    }
}
