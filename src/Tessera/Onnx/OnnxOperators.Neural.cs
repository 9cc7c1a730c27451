using Tessera.Kernels;
using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

public static partial class OnnxOperators
{
    private static void AddNeural(Dictionary<string, OnnxOpBuilder> t)
    {
        t["ReduceSum"] = c => One(Reduce(c, (x, axes, keep) => Sum(x, axes, keep), ReduceKind.Sum));
        t["ReduceMean"] = c => One(Reduce(c, (x, axes, keep) => Mean(x, axes, keep)));
        t["ReduceMax"] = c => One(Reduce(c, (x, axes, keep) => Max(x, axes, keep), ReduceKind.Max));
        t["ReduceMin"] = c => One(Reduce(c, (x, axes, keep) => Min(x, axes, keep), ReduceKind.Min));
        t["ReduceProd"] = c => One(Reduce(c, (x, axes, keep) => Prod(x, axes, keep), ReduceKind.Prod));
        t["ReduceL1"] = c => One(Reduce(c, (x, axes, keep) => Sum(Abs(x), axes, keep)));
        t["ReduceL2"] = c => One(Reduce(c, (x, axes, keep) => Sqrt(Sum(Square(x), axes, keep))));
        t["ReduceSumSquare"] = c => One(Reduce(c, (x, axes, keep) => Sum(Square(x), axes, keep)));
        t["ReduceLogSum"] = c => One(Reduce(c, (x, axes, keep) => Log(Sum(x, axes, keep))));
        t["ReduceLogSumExp"] = c => One(Reduce(c, (x, axes, keep) => LogSumExp(x, axes, keep)));
        t["ArgMax"] = c => One(c.Graph.Apply(new ArgExtremeOp(true, (int)c.Int("axis", 0), c.Int("keepdims", 1) != 0, c.Int("select_last_index", 0) != 0), c.Required(0)));
        t["ArgMin"] = c => One(c.Graph.Apply(new ArgExtremeOp(false, (int)c.Int("axis", 0), c.Int("keepdims", 1) != 0, c.Int("select_last_index", 0) != 0), c.Required(0)));

        t["Softmax"] = c => One(SoftmaxFamily(c, (x, a) => Softmax(x, a)));
        t["LogSoftmax"] = c => One(SoftmaxFamily(c, (x, a) => LogSoftmax(x, a)));
        t["Hardmax"] = c => One(SoftmaxFamily(c, (x, a) => x.Graph.Apply(new HardmaxOp(a), x)));

        t["MatMul"] = c => One(MatMul(c.Required(0), c.Required(1)));
        t["Gemm"] = c =>
        {
            Node a = c.Required(0), b = c.Required(1);
            if (c.Int("transA", 0) != 0) a = Transpose(a);
            if (c.Int("transB", 0) != 0) b = Transpose(b);
            float alpha = c.Float("alpha", 1f), beta = c.Float("beta", 1f);
            var y = MatMul(a, b);
            if (alpha != 1) y = Mul(y, c.Graph.Constant(alpha, y.DType));
            if (c.Input(2) is { } bias && beta != 0)
                y = Add(y, beta == 1 ? bias : Mul(bias, c.Graph.Constant(beta, bias.DType)));
            return One(y);
        };

        t["BatchNormalization"] = c =>
        {
            Node x = c.Required(0), scale = c.Required(1), bias = c.Required(2), mean = c.Required(3), var_ = c.Required(4);
            float eps = c.Float("epsilon", 1e-5f);
            if (c.Int("training_mode", 0) != 0) return BatchNormTraining(c, x, scale, bias, mean, var_, eps);
            // y = x·s + (b − mean·s) with s = scale/√(var+ε): constants fold, leaving one multiply-add per element.
            var s = Div(scale, Sqrt(Add(var_, c.Graph.Constant(eps, var_.DType))));
            var shift = Sub(bias, Mul(mean, s));
            var axes = Enumerable.Range(1, Math.Max(x.Rank - 2, 0)).ToArray();
            if (axes.Length > 0) { s = Unsqueeze(s, axes); shift = Unsqueeze(shift, axes); }
            return One(Add(Mul(x, s), shift));
        };
        t["InstanceNormalization"] = c =>
        {
            Node x = c.Required(0), scale = c.Required(1), bias = c.Required(2);
            float eps = c.Float("epsilon", 1e-5f);
            var axes = Enumerable.Range(2, x.Rank - 2).ToArray();
            var mean = Mean(x, axes, true);
            var d = Sub(x, mean);
            var inv = Reciprocal(Sqrt(Add(Mean(Square(d), axes, true), c.Graph.Constant(eps, x.DType))));
            var cAxes = Enumerable.Range(1, x.Rank - 2).ToArray();
            return One(Add(Mul(Mul(d, inv), Unsqueeze(scale, cAxes)), Unsqueeze(bias, cAxes)));
        };
        t["GroupNormalization"] = c =>
        {
            // Statistics over each group of C/G channels and all spatial positions. Opset 18 scales and shifts per
            // group (scale, bias of length G); opset 21 per channel (length C), so the same file means different things.
            Node x = c.Required(0), scale = c.Required(1), bias = c.Required(2);
            int groups = (int)c.Int("num_groups", 0), ch = x.Rank >= 2 ? x.Shape[1] : -1;
            if (groups <= 0) throw c.Error("attribute 'num_groups' (> 0) is required");
            if (ch < 0) throw c.Unsupported("an input whose channel count is unknown");
            if (ch % groups != 0) throw c.Error($"{ch} channels do not split into {groups} groups");
            if (c.Opset >= 21 && c.Int("stash_type", 1) != 1) throw c.Unsupported($"stash_type {c.Int("stash_type", 1)}");
            int perChannel = c.Opset >= 21 ? ch : groups;
            if (scale.Shape is not [var sl] || (sl >= 0 && sl != perChannel) || bias.Shape is not [var bl] || (bl >= 0 && bl != perChannel))
                throw c.Error($"opset {c.Opset} expects scale and bias of length {perChannel}, got {ShapeMath.Format(scale.Shape)} and {ShapeMath.Format(bias.Shape)}");
            float eps = c.Float("epsilon", 1e-5f);
            var g = c.Graph.Apply(new ReshapeToOp([0, groups, -1], false), x);
            var d = Sub(g, Mean(g, [2], true));
            var inv = Reciprocal(Sqrt(Add(Mean(Square(d), [2], true), c.Graph.Constant(eps, x.DType))));
            var y = ReshapeLike(Mul(d, inv), x);
            if (c.Opset < 21)
            {
                // Each group's value repeated over its C/G channels.
                var index = Tensor.FromArray(Enumerable.Range(0, ch).Select(i => (long)(i / (ch / groups))).ToArray(), ch);
                scale = Gather(scale, c.Graph.Constant(index)); bias = Gather(bias, c.Graph.Constant(index));
            }
            var cAxes = Enumerable.Range(1, x.Rank - 2).ToArray();
            if (cAxes.Length > 0) { scale = Unsqueeze(scale, cAxes); bias = Unsqueeze(bias, cAxes); }
            return One(Add(Mul(y, scale), bias));
        };
        t["LayerNormalization"] = c =>
        {
            Node x = c.Required(0), scale = c.Required(1);
            int axis = (int)c.Int("axis", -1);
            if (axis < 0) axis += x.Rank;
            float eps = c.Float("epsilon", 1e-5f);
            var axes = Enumerable.Range(axis, x.Rank - axis).ToArray();
            var mean = Mean(x, axes, true);
            var d = Sub(x, mean);
            var inv = Reciprocal(Sqrt(Add(Mean(Square(d), axes, true), c.Graph.Constant(eps, x.DType))));
            var y = Mul(Mul(d, inv), scale);
            if (c.Input(2) is { } bias) y = Add(y, bias);
            return [y, mean, inv];
        };
        t["MeanVarianceNormalization"] = c =>
        {
            var x = c.Required(0);
            var axes = c.Int32s("axes") ?? [0, 2, 3];
            var mean = Mean(x, axes, true);
            var d = Sub(x, mean);
            var std = Sqrt(Mean(Square(d), axes, true));
            return One(Div(d, Add(std, c.Graph.Constant(1e-9, x.DType))));
        };

        t["GlobalAveragePool"] = c => { var x = c.Required(0); return One(Mean(x, [.. Enumerable.Range(2, x.Rank - 2)], true)); };
        t["GlobalMaxPool"] = c => { var x = c.Required(0); return One(Max(x, [.. Enumerable.Range(2, x.Rank - 2)], true)); };
        t["Conv"] = Conv;
        t["MaxPool"] = c => Pool(c, true);
        t["ConvTranspose"] = ConvTranspose;
        t["AveragePool"] = c => Pool(c, false);
    }

    /// <summary>
    /// Reduce*: axes are an attribute until opset 17 (ReduceSum: 12) and an optional input after. A run-time axes input
    /// needs a reduction the registry's <see cref="ReduceOp"/> computes directly (<paramref name="kind"/>).
    /// ReduceMax and ReduceMin take bool from opset 20: max is "any", min is "all", computed exactly on 0/1 floats.
    /// </summary>
    private static Node Reduce(OnnxNodeContext c, Func<Node, int[]?, bool, Node> f, ReduceKind? kind = null)
    {
        var x = c.Required(0);
        if (x.DType == DType.Bool && c.OpType is "ReduceMax" or "ReduceMin")
        {
            if (c.Opset < 20) throw c.Error("a bool input needs opset 20");
            var inner = f;
            f = (b, axes, keep) => Cast(inner(Cast(b, DType.Float32), axes, keep), DType.Bool);
            kind = null;
        }
        bool keep = c.Int("keepdims", 1) != 0;
        bool noop = c.Int("noop_with_empty_axes", 0) != 0;
        bool axesFromInput = c.Opset >= (c.OpType == "ReduceSum" ? 13 : 18);
        if (!axesFromInput)
        {
            var axes = c.Int32s("axes");
            if (axes is { Length: 0 }) axes = null;
            return f(x, axes, keep);
        }
        if (c.Has("axes")) throw c.Error($"axes is an input from opset {(c.OpType == "ReduceSum" ? 13 : 18)}, not an attribute");
        if (c.Input(1) is not { } axesNode)
            return noop ? ExpandLike(x, x) : f(x, null, keep);
        if (c.ConstantInput(1) is { } known)
        {
            var axes = OnnxNodeContext.Int32Values(known);
            return axes.Length > 0 ? f(x, axes, keep) : noop ? ExpandLike(x, x) : f(x, null, keep);
        }
        if (kind is not { } k) throw c.Unsupported("axes known only at run time");
        return c.Bind("Reduce" + k, [x], [axesNode], v =>
        {
            var axes = OnnxNodeContext.Int32Values(v[0]);
            if (axes.Length == 0) return noop ? new IdentityOp() : new ReduceOp(k, null, keep);
            return new ReduceOp(k, axes, keep);
        }, (d, p) => Unknown(d[0].DType, keep ? d[0].Rank : d[0].Rank - Math.Max(VectorLength(p[0]), 0)));
    }

    /// <summary>Softmax-like ops: before opset 13 the input is coerced to 2-D at axis (default 1); from 13 one axis (default −1).</summary>
    private static Node SoftmaxFamily(OnnxNodeContext c, Func<Node, int, Node> f)
    {
        var x = c.Required(0);
        if (c.Opset >= 13) return f(x, (int)c.Int("axis", -1));
        int axis = (int)c.Int("axis", 1);
        if (axis < 0) axis += x.Rank;
        if (axis == x.Rank - 1) return f(x, -1);
        var flat = c.Graph.Apply(new FlattenOp(axis), x);
        return ReshapeLike(f(flat, -1), x);
    }

    /// <summary>Per-axis pads (begin..., end...) from explicit pads or auto_pad for a sliding window.</summary>
    private static int[] WindowPads(OnnxNodeContext c, int[] spatial, int[] kernel, int[] strides, int[] dilations)
    {
        int n = kernel.Length;
        var autoPad = c.String("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            if (spatial.Any(s => s < 0)) throw c.Unsupported("auto_pad with unknown spatial size");
            var pads = new int[2 * n];
            for (int i = 0; i < n; i++)
            {
                int outSize = (spatial[i] + strides[i] - 1) / strides[i];
                int total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
                int small = total / 2;
                (pads[i], pads[i + n]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
            return pads;
        }
        if (autoPad == "VALID") return new int[2 * n];
        return c.Int32s("pads") ?? new int[2 * n];
    }

    private static Node[] Conv(OnnxNodeContext c)
    {
        Node x = c.Required(0), w = c.Required(1);
        var b = c.Input(2);
        int spatialRank = x.Rank - 2;
        var kernel = c.Int32s("kernel_shape") ?? w.Shape[2..];
        var strides = c.Int32s("strides") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var dil = c.Int32s("dilations") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var pads = WindowPads(c, x.Shape[2..], kernel, strides, dil);
        int groups = (int)c.Int("group", 1);
        if (spatialRank == 2)
            return One(Conv2d(x, w, b, strides, [pads[0], pads[1], pads[2], pads[3]], dil, groups));
        if (spatialRank == 1)
        {
            var y = Conv2d(Unsqueeze(x, 2), Unsqueeze(w, 2), b, [1, strides[0]], [0, pads[0], 0, pads[1]], [1, dil[0]], groups);
            return One(Squeeze(y, 2));
        }
        return One(b is null ? c.Graph.Apply(new ConvNdOp(new WindowNd(kernel, strides, pads, dil), groups), x, w)
                             : c.Graph.Apply(new ConvNdOp(new WindowNd(kernel, strides, pads, dil), groups), x, w, b));
    }

    private static Node[] ConvTranspose(OnnxNodeContext c)
    {
        Node x = c.Required(0), w = c.Required(1);
        var b = c.Input(2);
        int r = x.Rank - 2;
        if (!x.Type.IsFullyKnown || !w.Type.IsFullyKnown) throw c.Unsupported("transposed convolution with unknown input or weight shape");
        var kernel = c.Int32s("kernel_shape") ?? w.Shape[2..];
        var strides = c.Int32s("strides") ?? [.. Enumerable.Repeat(1, r)];
        var dil = c.Int32s("dilations") ?? [.. Enumerable.Repeat(1, r)];
        var outPad = c.Int32s("output_padding") ?? new int[r];
        var outShape = c.Int32s("output_shape");
        var autoPad = c.String("auto_pad", "NOTSET");
        var pads = c.Int32s("pads") ?? new int[2 * r];
        var spatial = new int[r];
        var begin = new int[r];
        for (int i = 0; i < r; i++)
        {
            int inSize = x.Shape[i + 2], eff = (kernel[i] - 1) * dil[i] + 1;
            if (outShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                int target = outShape is not null ? outShape[outShape.Length - r + i] : inSize * strides[i];
                int total = strides[i] * (inSize - 1) + outPad[i] + eff - target;
                int half = (int)Math.Floor(total / 2.0);   // floor division, as the ONNX reference: negative totals pad the end
                begin[i] = autoPad == "SAME_UPPER" ? half : total - half;
                spatial[i] = target;
            }
            else
            {
                begin[i] = autoPad == "VALID" ? 0 : pads[i];
                int end = autoPad == "VALID" ? 0 : pads[i + r];
                spatial[i] = strides[i] * (inSize - 1) + outPad[i] + eff - begin[i] - end;
            }
        }
        var op = new ConvTransposeNdOp(strides, begin, dil, spatial, (int)c.Int("group", 1));
        return One(b is null ? c.Graph.Apply(op, x, w) : c.Graph.Apply(op, x, w, b));
    }

    private static Node[] Pool(OnnxNodeContext c, bool max)
    {
        var x = c.Required(0);
        int spatialRank = x.Rank - 2;
        var kernel = c.Int32s("kernel_shape") ?? throw c.Error("attribute 'kernel_shape' is required");
        var strides = c.Int32s("strides") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var dil = c.Int32s("dilations") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var pads = WindowPads(c, x.Shape[2..], kernel, strides, dil);
        bool ceil = c.Int("ceil_mode", 0) != 0;
        bool includePad = c.Int("count_include_pad", 0) != 0;
        if (!max && spatialRank == 2 && !ceil && pads.All(p => p == 0) && dil.All(d => d == 1) && !c.WantsOutput(1)
            && x.Operation is PadModeOp { Mode: PadMode.Constant, Value: 0, Pads: [0, 0, >= 0, >= 0, 0, 0, >= 0, >= 0] } zeroPad)
        {
            // PyTorch exports avg_pool2d(padding=p) (count_include_pad) as Pad with zeros, then AveragePool without
            // padding: the same averages as pooling the unpadded input with pads p, counting them, and no copy.
            var pp = zeroPad.Pads;
            x = x.Inputs[0];
            pads = [(int)pp[2], (int)pp[3], (int)pp[6], (int)pp[7]];
            includePad = true;
        }
        var window = new WindowNd(kernel, strides, pads, dil, ceil);
        if (c.WantsOutput(1))
        {
            bool colMajor = c.Int("storage_order", 0) != 0;
            return [c.Graph.Apply(new PoolNdOp(max, window, includePad), x), c.Graph.Apply(new PoolNdOp(max, window, includePad, 1, colMajor), x)];
        }
        if (spatialRank == 2 && ceil && (max || !includePad) && dil.All(d => d == 1) && x.Shape[2] > 0 && x.Shape[3] > 0)
        {
            // Ceil mode = extra end padding that max and exclude-pad averaging both ignore.
            var outSize = window.OutputSpatial("Pool", x.Shape[2..]);
            for (int i = 0; i < 2; i++) pads[i + 2] = Math.Max(pads[i + 2], (outSize[i] - 1) * strides[i] + kernel[i] - x.Shape[i + 2] - pads[i]);
            ceil = false;
        }
        if (spatialRank == 2 && !ceil && dil.All(d => d == 1) && pads[0] * 2 <= kernel[0] && pads[1] * 2 <= kernel[1]
            && pads[2] < kernel[0] && pads[3] < kernel[1])
            return One(max ? MaxPool2d(x, kernel, strides, [pads[0], pads[1], pads[2], pads[3]])
                           : AvgPool2d(x, kernel, strides, [pads[0], pads[1], pads[2], pads[3]], includePad));
        return One(c.Graph.Apply(new PoolNdOp(max, window, includePad), x));
    }
}


public static partial class OnnxOperators
{
    private static LossReduction LossReductionAttr(OnnxNodeContext c) => c.String("reduction", "mean") switch
    {
        "none" => LossReduction.None,
        "sum" => LossReduction.Sum,
        "mean" => LossReduction.Mean,
        var r => throw c.Unsupported($"reduction '{r}'"),
    };

    private static void AddLosses(Dictionary<string, OnnxOpBuilder> t)
    {
        t["NegativeLogLikelihoodLoss"] = c =>
        {
            var op = new NllLossOp(LossReductionAttr(c), c.Has("ignore_index") ? c.Int("ignore_index", 0) : null);
            Node[] args = c.Input(2) is { } w ? [c.Required(0), c.Required(1), w] : [c.Required(0), c.Required(1)];
            return One(c.Graph.Apply(op, args));
        };
        t["SoftmaxCrossEntropyLoss"] = c =>
        {
            var scores = c.Required(0);
            var logp = LogSoftmax(scores, 1);
            var op = new NllLossOp(LossReductionAttr(c), c.Has("ignore_index") ? c.Int("ignore_index", 0) : null);
            Node[] args = c.Input(2) is { } w ? [logp, c.Required(1), w] : [logp, c.Required(1)];
            return [c.Graph.Apply(op, args), logp];
        };
    }
}

public static partial class OnnxOperators
{
    private static void AddResize(Dictionary<string, OnnxOpBuilder> t)
    {
        t["Resize"] = c =>
        {
            var x = c.Required(0);
            var mode = c.String("mode", "nearest") switch
            {
                "nearest" => ResizeMode.Nearest,
                "linear" => ResizeMode.Linear,
                "cubic" => ResizeMode.Cubic,
                var m => throw c.Unsupported($"mode '{m}'"),
            };
            string coord = c.Opset < 11 ? "asymmetric" : c.String("coordinate_transformation_mode", "half_pixel");
            if (coord is not ("half_pixel" or "pytorch_half_pixel" or "align_corners" or "asymmetric" or "tf_half_pixel_for_nn" or "tf_crop_and_resize")
                && !(coord == "half_pixel_symmetric" && c.Opset >= 19))
                throw c.Unsupported($"coordinate_transformation_mode '{coord}'");
            // Opset 18 options that change the output; refused rather than ignored.
            if (c.Int("antialias", 0) != 0) throw c.Unsupported("antialias");
            if (c.Has("axes")) throw c.Unsupported("the axes attribute");
            if (c.String("keep_aspect_ratio_policy", "stretch") != "stretch") throw c.Unsupported($"keep_aspect_ratio_policy '{c.String("keep_aspect_ratio_policy", "")}'");
            string nearest = c.String("nearest_mode", "round_prefer_floor");
            double a = c.Float("cubic_coeff_a", -0.75f), extrap = c.Float("extrapolation_value", 0f);
            bool exclude = c.Int("exclude_outside", 0) != 0;
            if (c.Opset < 11)
                return One(c.Bind("Resize", [x], [c.Required(1)], v => MakeResize(x.Shape, mode, coord, nearest, a, exclude, extrap, v[0], null, null),
                    (d, _) => Unknown(d[0].DType, d[0].Rank)));
            Node? roi = c.Input(1), scales = c.Input(2), sizes = c.Input(3);
            if (scales is { Shape: [0] }) scales = null;
            var ps = new List<Node>();
            if (roi is not null) ps.Add(roi);
            if (scales is not null) ps.Add(scales);
            if (sizes is not null) ps.Add(sizes);
            return One(c.Bind("Resize", [x], [.. ps], v =>
            {
                int k = 0;
                var roiV = roi is null ? null : v[k++];
                var scalesV = scales is null ? null : v[k++];
                var sizesV = sizes is null ? null : v[k];
                return MakeResize(null, mode, coord, nearest, a, exclude, extrap, scalesV is { Length: > 0 } ? scalesV : null, sizesV, roiV);
            }, (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
        t["GridSample"] = c =>
        {
            // Opset 20 renamed the modes (bilinear → linear, bicubic → cubic) and allowed N-d inputs.
            bool v20 = c.Opset >= 20;
            var mode = c.String("mode", v20 ? "linear" : "bilinear") switch
            {
                "nearest" => ResizeMode.Nearest,
                "linear" when v20 => ResizeMode.Linear,
                "cubic" when v20 => ResizeMode.Cubic,
                "bilinear" when !v20 => ResizeMode.Linear,
                "bicubic" when !v20 => ResizeMode.Cubic,
                var m => throw c.Unsupported($"mode '{m}'"),
            };
            var padding = c.String("padding_mode", "zeros");
            if (padding is not ("zeros" or "border" or "reflection")) throw c.Unsupported($"padding_mode '{padding}'");
            var x = c.Required(0);
            if (x.Rank != 4) throw c.Unsupported($"a rank-{x.Rank} input ({x.Rank - 2}-D sampling; only 2-D is implemented)");
            return One(c.Graph.Apply(new GridSampleOp(mode, padding, c.Int("align_corners", 0) != 0), x, c.Required(1)));
        };
        t["Upsample"] = c =>
        {
            var x = c.Required(0);
            var mode = c.String("mode", "nearest") == "nearest" ? ResizeMode.Nearest : ResizeMode.Linear;
            if (c.Opset < 9)
            {
                var s = c.Floats("scales") ?? throw c.Error("attribute 'scales' is required");
                return One(c.Graph.Apply(MakeResize(x.Shape, mode, "asymmetric", "floor", -0.75, false, 0, Tensor.FromArray(s, s.Length), null, null), x));
            }
            return One(c.Bind("Upsample", [x], [c.Required(1)], v => MakeResize(x.Shape, mode, "asymmetric", "floor", -0.75, false, 0, v[0], null, null),
                (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
    }

    /// <summary>A resize op for known scales or sizes; the input shape comes from the static shape or, when unknown, is read at bind time.</summary>
    private static Operation MakeResize(int[]? inShape, ResizeMode mode, string coord, string nearest, double a, bool exclude, double extrap,
        Tensor? scales, Tensor? sizes, Tensor? roi) =>
        new LazyResizeOp(inShape, mode, coord, nearest, a, exclude, extrap, scales?.ToDoubleArray(), sizes is null ? null : OnnxNodeContext.Int32Values(sizes), roi?.ToDoubleArray());
}

/// <summary>Resize whose output size depends on the input shape (scales given): builds the concrete <see cref="ResizeOp"/> per input shape.</summary>
internal sealed class LazyResizeOp(int[]? staticShape, ResizeMode mode, string coord, string nearest, double a, bool exclude, double extrap,
    double[]? scales, int[]? sizes, double[]? roi) : Operation
{
    private ResizeOp? _op;
    private int[]? _shape;
    public override string Name => "Resize";

    private ResizeOp For(int[] x)
    {
        if (_op is not null && _shape!.AsSpan().SequenceEqual(x)) return _op;
        if (scales is null && sizes is null) throw new ArgumentException("Resize: neither scales nor sizes is given.");
        var sc = new double[x.Length];
        var sz = new int[x.Length];
        for (int d = 0; d < x.Length; d++)
        {
            if (sizes is not null)
            {
                if (sizes.Length != x.Length) throw new ShapeMismatchException(Name, $"{sizes.Length} sizes for input {ShapeMath.Format(x)}");
                sz[d] = sizes[d];
                sc[d] = x[d] == 0 ? 1 : (double)sizes[d] / x[d];
            }
            else
            {
                if (scales!.Length != x.Length) throw new ShapeMismatchException(Name, $"{scales.Length} scales for input {ShapeMath.Format(x)}");
                sc[d] = scales[d];
                double span = coord == "tf_crop_and_resize" && roi is not null ? roi[d + x.Length] - roi[d] : 1;
                sz[d] = (int)Math.Floor(x[d] * span * scales[d]);
            }
        }
        _shape = x;
        return _op = new ResizeOp(mode, coord, nearest, a, exclude, extrap, sc, sz, roi);
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var x = inputs[0].Shape;
        if (!inputs[0].IsFullyKnown)
        {
            if (staticShape is not null && !staticShape.Contains(-1)) x = staticShape;
            else return new TensorType(inputs[0].DType, [.. x.Select(_ => -1)]);
        }
        return For(x).InferType(inputs);
    }

    public override bool ValueDependentShape => true;
    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => For(inputs[0].ShapeArray()).Forward(inputs, output);
}

public static partial class OnnxOperators
{
    private static void AddMisc(Dictionary<string, OnnxOpBuilder> t)
    {
        foreach (var w in new[] { SignalWindow.Hann, SignalWindow.Hamming, SignalWindow.Blackman })
            t[w + "Window"] = c =>
            {
                var dtype = DTypeAttr(c, "output_datatype", DType.Float32);
                bool periodic = c.Int("periodic", 1) != 0;
                return One(c.Bind(w + "Window", [], [c.Required(0)], v => new SignalWindowOp(w, (int)v[0].ToScalar(), periodic, dtype), (_, _) => Unknown(dtype, 1)));
            };
        t["Einsum"] = c => One(c.Graph.Apply(new EinsumOp(c.String("equation", "")), [.. Enumerable.Range(0, c.InputCount).Select(c.Required)]));
        t["NonMaxSuppression"] = c =>
        {
            var args = Enumerable.Range(0, c.InputCount).Select(c.Input).ToList();
            // Absent optional inputs in the middle become empty tensors, so positions stay fixed.
            var nodes = args.Select((n, i) => n ?? c.Graph.Constant(Tensor.Zeros(i == 2 ? DType.Int64 : DType.Float32, 0))).ToArray();
            return One(c.Graph.Apply(new NonMaxSuppressionOp(c.Int("center_point_box", 0) != 0), nodes));
        };
        t["Unique"] = c =>
        {
            int? axis = c.Has("axis") ? (int)c.Int("axis", 0) : null;
            bool sorted = c.Int("sorted", 1) != 0;
            return [.. Enumerable.Range(0, 4).Select(o => c.Graph.Apply(new UniqueOp(axis, sorted, o), c.Required(0)))];
        };
        t["MaxUnpool"] = c =>
        {
            var x = c.Required(0);
            var kernel = c.Int32s("kernel_shape") ?? throw c.Error("attribute 'kernel_shape' is required");
            int r = kernel.Length;
            var strides = c.Int32s("strides") ?? [.. Enumerable.Repeat(1, r)];
            var pads = c.Int32s("pads") ?? new int[2 * r];
            if (!x.Type.IsFullyKnown) throw c.Unsupported("an input of unknown shape");
            int[] shape = [x.Shape[0], x.Shape[1], .. Enumerable.Range(0, r).Select(i => (x.Shape[i + 2] - 1) * strides[i] + kernel[i] - pads[i] - pads[i + r])];
            if (c.Input(2) is { } shapeNode)
                return One(c.Bind("MaxUnpool", [x, c.Required(1)], [shapeNode], v => new MaxUnpoolOp(OnnxNodeContext.Int32Values(v[0]), shape), (d, _) => Unknown(d[0].DType, d[0].Rank)));
            return One(c.Graph.Apply(new MaxUnpoolOp(shape), x, c.Required(1)));
        };
        t["Det"] = c => One(c.Graph.Apply(new DeterminantOp(), c.Required(0)));
        t["LRN"] = c => One(c.Graph.Apply(new LrnOp((int)c.Int("size", 1), c.Float("alpha", 1e-4f), c.Float("beta", 0.75f), c.Float("bias", 1f)), c.Required(0)));
        t["ReverseSequence"] = c => One(c.Graph.Apply(new ReverseSequenceOp((int)c.Int("batch_axis", 1), (int)c.Int("time_axis", 0)), c.Required(0), c.Required(1)));
        t["BitShift"] = c => One(c.Graph.Apply(new BitShiftOp(c.String("direction", "LEFT") == "LEFT"), c.Required(0), c.Required(1)));
        t["QuantizeLinear"] = c =>
        {
            Node x = c.Required(0), scale = c.Required(1);
            var zp = c.Input(2);
            // Opset 21: output_dtype names the output type when there is no zero point (the zero point's type wins otherwise).
            var outType = zp?.DType ?? (c.Opset >= 21 ? DTypeAttr(c, "output_dtype", DType.UInt8) : DType.UInt8);
            // saturate (opset 19) concerns float8 outputs only, which are refused below; integers always saturate.
            var (lo, hi) = outType switch
            {
                DType.UInt8 => (0, 255),
                DType.Int8 => (-128, 127),
                _ => throw c.Unsupported($"quantizing to {outType.Name()}"),
            };
            int axis = (int)c.Int("axis", 1);
            // Round half to even, as ONNX specifies; then the zero point; then saturate to the output range.
            var q = c.Graph.Apply(new MathOp(MathFunction.Round), Div(x, QuantParam(c, scale, x, axis)));
            if (zp is not null) q = Add(q, Cast(QuantParam(c, zp, x, axis), x.DType));
            return One(Cast(c.Graph.Apply(new ClipOp(lo, hi), q), outType));
        };
        t["DequantizeLinear"] = c =>
        {
            Node x = c.Required(0), scale = c.Required(1);
            int axis = (int)c.Int("axis", 1);
            var xf = Cast(x, scale.DType);
            if (c.Input(2) is { } zp) xf = Sub(xf, Cast(QuantParam(c, zp, x, axis), scale.DType));
            return One(Mul(xf, QuantParam(c, scale, x, axis)));
        };
        t["DynamicQuantizeLinear"] = c =>
        {
            var x = c.Required(0);
            var zero = c.Graph.Constant(0, x.DType);
            var hi = Maximum(Max(x), zero); var lo = Minimum(Min(x), zero);
            var scale = Div(Sub(hi, lo), c.Graph.Constant(255, x.DType));
            var zpf = c.Graph.Apply(new ClipOp(0, 255), c.Graph.Apply(new MathOp(MathFunction.Round), Sub(zero, Div(lo, scale))));
            var q = c.Graph.Apply(new ClipOp(0, 255), Add(c.Graph.Apply(new MathOp(MathFunction.Round), Div(x, scale)), zpf));
            return [Cast(q, DType.UInt8), scale, Cast(zpf, DType.UInt8)];
        };
    }

    /// <summary>
    /// A quantization scale or zero point shaped to broadcast against x: scalar (per tensor), 1-D along axis (per
    /// channel) or, from opset 21 with block_size > 0, x's rank with axis holding ⌈n / block_size⌉ blocks, each block's
    /// value repeated over its block_size positions.
    /// </summary>
    private static Node QuantParam(OnnxNodeContext c, Node p, Node x, int axis)
    {
        long block = c.Opset >= 21 ? c.Int("block_size", 0) : 0;
        if (block < 0) throw c.Error($"block_size must be ≥ 0, got {block}");
        if (block == 0) return PerAxis(c, p, x, axis);
        if (axis < 0) axis += x.Rank;
        if (p.Rank != x.Rank || axis < 0 || axis >= x.Rank) throw c.Error($"blocked quantization needs a parameter of x's rank {x.Rank} and a valid axis, got shape {ShapeMath.Format(p.Shape)}, axis {axis}");
        int n = x.Shape[axis];
        if (n < 0) throw c.Unsupported("blocked quantization along an axis of unknown size");
        long blocks = (n + block - 1) / block;
        if (p.Shape[axis] >= 0 && p.Shape[axis] != blocks) throw c.Error($"{n} elements in blocks of {block} need {blocks} parameters along axis {axis}, got {p.Shape[axis]}");
        var index = new long[n];
        for (int i = 0; i < n; i++) index[i] = i / block;
        return Gather(p, c.Graph.Constant(Tensor.FromArray(index, n)), axis);
    }

    /// <summary>A 1-D per-channel parameter reshaped to broadcast along <paramref name="axis"/> of x (scalars unchanged).</summary>
    private static Node PerAxis(OnnxNodeContext c, Node p, Node x, int axis)
    {
        if (p.Rank == 0) return p;
        if (axis < 0) axis += x.Rank;
        var trailing = Enumerable.Range(1, x.Rank - axis - 1).ToArray();
        return trailing.Length == 0 ? p : Unsqueeze(p, trailing);
    }
}

public static partial class OnnxOperators
{
    private static void AddRecurrent(Dictionary<string, OnnxOpBuilder> t)
    {
        t["RNN"] = c => Recurrent(c, RecurrentCell.Rnn, ["Tanh"]);
        t["GRU"] = c => Recurrent(c, RecurrentCell.Gru, ["Sigmoid", "Tanh"]);
        t["LSTM"] = c => Recurrent(c, RecurrentCell.Lstm, ["Sigmoid", "Tanh", "Tanh"]);
    }

    private static Node[] Recurrent(OnnxNodeContext c, RecurrentCell cell, string[] defaults)
    {
        string direction = c.String("direction", "forward");
        int dirs = direction == "bidirectional" ? 2 : 1;
        var acts = c.Attribute("activations") is { } a ? a.Strings.Select(s => s.ToStringUtf8()).ToArray() : [.. Enumerable.Repeat(defaults, dirs).SelectMany(x => x)];
        if (acts.Length < defaults.Length * dirs) acts = [.. Enumerable.Repeat(acts, dirs).SelectMany(x => x)];
        var alphas = c.Floats("activation_alpha")?.Select(f => (double)f).ToArray() ?? [];
        var betas = c.Floats("activation_beta")?.Select(f => (double)f).ToArray() ?? [];
        double? clip = c.Has("clip") ? c.Float("clip", 0) : null;
        var x = c.Required(0);
        int hidden = (int)c.Int("hidden_size", c.Required(2).Shape[^1]);
        if (cell == RecurrentCell.Lstm && c.Int("input_forget", 0) != 0) throw c.Unsupported("input_forget");
        var present = new bool[8];
        var args = new List<Node>();
        for (int i = 0; i < 8; i++) if (c.Input(i) is { } n) { present[i] = true; args.Add(n); }
        int outputs = cell == RecurrentCell.Lstm ? 3 : 2;
        return [.. Enumerable.Range(0, outputs).Select(o => c.Graph.Apply(new RecurrentOp(cell, hidden, direction, c.Int("linear_before_reset", 0) != 0,
            (int)c.Int("layout", 0), acts, alphas, betas, clip, present, o), [.. args]))];
    }
}

public static partial class OnnxOperators
{
    /// <summary>Integer and quantized linear algebra, computed exactly in float64 over the (x − zero point) values.</summary>
    private static void AddQuantized(Dictionary<string, OnnxOpBuilder> t)
    {
        t["MatMulInteger"] = c => One(Cast(MatMul(Centered(c, 0, 2, null), Centered(c, 1, 3, null)), DType.Int32));
        t["ConvInteger"] = c =>
        {
            var conv = ConvOn(c, Centered(c, 0, 2, null), Centered(c, 1, 3, null), null);
            return One(Cast(conv, DType.Int32));
        };
        t["QLinearMatMul"] = c =>
        {
            // inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
            var real = MatMul(Centered(c, 0, 2, 1), Centered(c, 3, 5, 4));
            return One(Requantize(c, real, 6, 7));
        };
        t["QLinearConv"] = c =>
        {
            // inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B (int32, in x_scale·w_scale units)
            Node? bias = c.Input(8) is { } b ? Mul(Cast(b, DType.Float64), Mul(Cast(c.Required(1), DType.Float64), Cast(c.Required(4), DType.Float64))) : null;
            var real = ConvOn(c, Centered(c, 0, 2, 1), Centered(c, 3, 5, 4, perChannelAxis: 0), bias);
            return One(Requantize(c, real, 6, 7));
        };
    }

    /// <summary>(input − zero point)·scale in float64 (scale optional; per-channel along an axis when 1-D).</summary>
    private static Node Centered(OnnxNodeContext c, int value, int zeroPoint, int? scale, int perChannelAxis = -1)
    {
        var x = Cast(c.Required(value), DType.Float64);
        Node Shape(Node p) => perChannelAxis >= 0 && p.Rank == 1 ? PerAxis(c, p, x, perChannelAxis) : p;
        if (c.Input(zeroPoint) is { } zp) x = Sub(x, Shape(Cast(zp, DType.Float64)));
        if (scale is int s) x = Mul(x, Shape(Cast(c.Required(s), DType.Float64)));
        return x;
    }

    private static Node Requantize(OnnxNodeContext c, Node real, int yScale, int yZeroPoint)
    {
        var q = c.Graph.Apply(new MathOp(MathFunction.Round), Div(real, Cast(c.Required(yScale), DType.Float64)));
        var zp = c.Input(yZeroPoint);
        if (zp is not null) q = Add(q, Cast(zp, DType.Float64));
        var type = zp?.DType ?? DType.UInt8;
        if (type != DType.UInt8) throw c.Unsupported($"quantized output of type {type.Name()}");
        return Cast(c.Graph.Apply(new ClipOp(0, 255), q), DType.UInt8);
    }

    /// <summary>A Conv node's attributes applied to given float inputs.</summary>
    private static Node ConvOn(OnnxNodeContext c, Node x, Node w, Node? b)
    {
        int spatialRank = x.Rank - 2;
        var kernel = c.Int32s("kernel_shape") ?? w.Shape[2..];
        var strides = c.Int32s("strides") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var dil = c.Int32s("dilations") ?? [.. Enumerable.Repeat(1, spatialRank)];
        var pads = WindowPads(c, x.Shape[2..], kernel, strides, dil);
        int groups = (int)c.Int("group", 1);
        var op = new ConvNdOp(new WindowNd(kernel, strides, pads, dil), groups);
        return b is null ? c.Graph.Apply(op, x, w) : c.Graph.Apply(op, x, w, b);
    }

    /// <summary>
    /// BatchNormalization with training_mode = 1 (opset 14+): normalizes with the batch's own mean and biased variance
    /// over every axis but 1, and returns the running statistics blended as input·momentum + batch·(1 − momentum).
    /// </summary>
    private static Node[] BatchNormTraining(OnnxNodeContext c, Node x, Node scale, Node bias, Node runMean, Node runVar, float eps)
    {
        if (x.Rank < 2) throw c.Error($"input must have rank ≥ 2, got {ShapeMath.Format(x.Shape)}");
        double momentum = c.Float("momentum", 0.9f);
        var axes = new[] { 0 }.Concat(Enumerable.Range(2, x.Rank - 2)).ToArray();
        var mean = Mean(x, axes, true);
        var d = Sub(x, mean);
        var var_ = Mean(Square(d), axes, true);
        var cAxes = Enumerable.Range(1, x.Rank - 2).ToArray();
        Node PerChannel(Node v) => cAxes.Length > 0 ? Unsqueeze(v, cAxes) : v;
        var y = Add(Mul(Div(d, Sqrt(Add(var_, c.Graph.Constant(eps, x.DType)))), PerChannel(scale)), PerChannel(bias));
        var flatMean = Reshape(mean, [-1]);
        var flatVar = Reshape(var_, [-1]);
        var outMean = Add(Mul(runMean, c.Graph.Constant(momentum, runMean.DType)), Mul(Cast(flatMean, runMean.DType), c.Graph.Constant(1 - momentum, runMean.DType)));
        var outVar = Add(Mul(runVar, c.Graph.Constant(momentum, runVar.DType)), Mul(Cast(flatVar, runVar.DType), c.Graph.Constant(1 - momentum, runVar.DType)));
        return [y, outMean, outVar];
    }
}
