using Tessera.Graphs;

namespace Tessera.Onnx;

/// <summary>
/// The opset-17 signal operators DFT, STFT and MelWeightMatrix (<c>Graphs/Ops/SpectralOps.cs</c>) and the text
/// feature operator TfIdfVectorizer (<c>Graphs/Ops/TfIdfOps.cs</c>), and RoiAlign (<c>Graphs/Ops/RoiAlignOp.cs</c>).
/// </summary>
public static partial class OnnxOperators
{
    private static void AddSignal(Dictionary<string, OnnxOpBuilder> t)
    {
        t["DFT"] = c =>
        {
            var x = c.Required(0);
            bool inverse = c.Int("inverse", 0) != 0, onesided = c.Int("onesided", 0) != 0;
            if (onesided && inverse) throw c.Unsupported("onesided inverse DFT");
            // Opset 20 moved axis from an attribute (default 1) to optional input 2 (default −2, the last signal axis).
            Node? len = c.Input(1), axisNode = c.Opset >= 20 ? c.Input(2) : null;
            if (c.Opset >= 20 && c.Has("axis")) throw c.Error("axis is an input from opset 20, not an attribute");
            int fixedAxis = c.Opset >= 20 ? -2 : (int)c.Int("axis", 1);
            if (len is null && axisNode is null) return One(c.Graph.Apply(new DftOp(fixedAxis, inverse, onesided), x));
            Node[] ps = [.. new[] { len, axisNode }.OfType<Node>()];
            return One(c.Bind("DFT", [x], ps, v =>
            {
                int k = 0;
                int? length = len is null ? null : checked((int)v[k++].ToScalar());
                int axis = axisNode is null ? fixedAxis : checked((int)v[k].ToScalar());
                return new DftOp(axis, inverse, onesided, length);
            }, (d, _) => Unknown(d[0].DType, d[0].Rank)));
        };
        t["STFT"] = c =>
        {
            var signal = c.Required(0);
            var window = c.Input(2);
            bool onesided = c.Int("onesided", 1) != 0;
            Node step = c.Required(1);
            var length = c.Input(3);
            if (window is null && length is null) throw c.Error("needs a window or a frame_length");
            var ps = new List<Node> { step };
            if (length is not null) ps.Add(length);
            Node[] data = window is null ? [signal] : [signal, window];
            return One(c.Bind("STFT", data, [.. ps], v =>
            {
                int frameLength = v.Length == 2 ? checked((int)v[1].ToScalar()) : window!.Shape[0] >= 0 ? window.Shape[0]
                    : throw c.Error("the window length must be known when frame_length is absent");
                return new StftOp(checked((int)v[0].ToScalar()), frameLength, onesided);
            }, (d, _) => Unknown(d[0].DType, 4)));
        };
        t["MelWeightMatrix"] = c =>
        {
            var dtype = DTypeAttr(c, "output_datatype", DType.Float32);
            Node[] ps = [c.Required(0), c.Required(1), c.Required(2), c.Required(3), c.Required(4)];
            return One(c.Bind("MelWeightMatrix", [], ps, v => new MelWeightMatrixOp(checked((int)v[0].ToScalar()), checked((int)v[1].ToScalar()),
                checked((int)v[2].ToScalar()), v[3].ToScalar(), v[4].ToScalar(), dtype), (_, _) => Unknown(dtype, 2)));
        };
        t["TfIdfVectorizer"] = c =>
        {
            if (c.Has("pool_strings")) throw c.Unsupported("pool_strings (string tokens)");
            var mode = c.String("mode", "TF") switch
            {
                "TF" => TfIdfMode.TF, "IDF" => TfIdfMode.IDF, "TFIDF" => TfIdfMode.TFIDF,
                var m => throw c.Unsupported($"mode '{m}'"),
            };
            var op = new TfIdfVectorizerOp((int)c.Int("min_gram_length", 1), (int)c.Int("max_gram_length", 1), (int)c.Int("max_skip_count", 0), mode,
                c.Ints("pool_int64s") ?? [], c.Ints("ngram_counts") ?? [], c.Ints("ngram_indexes") ?? [], c.Floats("weights")?.Select(w => (double)w).ToArray());
            return One(c.Graph.Apply(op, c.Required(0)));
        };
        t["RoiAlign"] = c =>
        {
            // Opset 16 added coordinate_transformation_mode with default half_pixel; before, regions were not shifted.
            var ctm = c.String("coordinate_transformation_mode", c.Opset >= 16 ? "half_pixel" : "output_half_pixel");
            if (ctm is not ("half_pixel" or "output_half_pixel")) throw c.Unsupported($"coordinate_transformation_mode '{ctm}'");
            var mode = c.String("mode", "avg");
            if (mode is not ("avg" or "max")) throw c.Unsupported($"mode '{mode}'");
            var op = new RoiAlignOp((int)c.Int("output_height", 1), (int)c.Int("output_width", 1), (int)c.Int("sampling_ratio", 0),
                c.Float("spatial_scale", 1f), ctm == "half_pixel", mode == "max");
            return One(c.Graph.Apply(op, c.Required(0), c.Required(1), c.Required(2)));
        };
    }
}
