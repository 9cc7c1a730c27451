namespace Tessera.Graphs;

/// <summary>
/// ONNX RoiAlign (opset 10/16): for each region (x1, y1, x2, y2) of rois, scaled by spatialScale, on image
/// batch_indices[r] of X [N, C, H, W], an [outH, outW] grid of bins, each the average (or maximum) of
/// samplingRatio² bilinear samples (ceil(region/bins) per side when samplingRatio is 0). halfPixel shifts the
/// region by −0.5 pixel (opset 16's default); without it, regions are at least one pixel on each side.
/// Max mode follows ONNX Runtime: each sample contributes the largest of its four weighted corner values.
/// </summary>
public sealed class RoiAlignOp(int outH, int outW, int samplingRatio, double spatialScale, bool halfPixel, bool max) : Operation
{
    public override string Name => "RoiAlign";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectFloat(inputs[0]);
        ExpectSameDType(inputs[0], inputs[1]);
        if (inputs[2].DType is not (DType.Int32 or DType.Int64))
            throw new DTypeMismatchException(Name, $"batch_indices have dtype {inputs[2].DType.Name()}, expected int64");
        var x = inputs[0].Shape; var r = inputs[1].Shape; var b = inputs[2].Shape;
        if (x.Length != 4) throw new ShapeMismatchException(Name, $"X {ShapeMath.Format(x)} must be [N, C, H, W]");
        if (r.Length != 2 || r[1] is not (4 or -1)) throw new ShapeMismatchException(Name, $"rois {ShapeMath.Format(r)} must be [num_rois, 4]");
        if (b.Length != 1 || (b[0] >= 0 && r[0] >= 0 && b[0] != r[0]))
            throw new ShapeMismatchException(Name, $"batch_indices {ShapeMath.Format(b)} must be a vector of num_rois ({r[0]})");
        if (outH < 1 || outW < 1 || samplingRatio < 0) throw new ArgumentException($"{Name}: output size ({outH}, {outW}) must be positive and sampling_ratio ({samplingRatio}) ≥ 0.");
        return new TensorType(inputs[0].DType, [r[0], x[1], outH, outW]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous(); var rois = inputs[1].Contiguous(); var idx = inputs[2].Contiguous();
        int n = x.Shape[0], channels = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        double offset = halfPixel ? 0.5 : 0;
        for (int r = 0; r < rois.Shape[0]; r++)
        {
            long img = (long)idx.GetDouble(r);
            if (img < 0 || img >= n) throw new ArgumentOutOfRangeException(nameof(inputs), $"{Name}: batch index {img} of region {r} is outside [0, {n}).");
            double x0 = rois.GetDouble(r * 4) * spatialScale - offset, y0 = rois.GetDouble(r * 4 + 1) * spatialScale - offset;
            double rw = rois.GetDouble(r * 4 + 2) * spatialScale - offset - x0, rh = rois.GetDouble(r * 4 + 3) * spatialScale - offset - y0;
            if (!halfPixel) { rw = Math.Max(rw, 1); rh = Math.Max(rh, 1); }
            double binH = rh / outH, binW = rw / outW;
            int gridH = samplingRatio > 0 ? samplingRatio : (int)Math.Ceiling(rh / outH);
            int gridW = samplingRatio > 0 ? samplingRatio : (int)Math.Ceiling(rw / outW);
            int count = Math.Max(gridH * gridW, 1);
            for (int c = 0; c < channels; c++)
            {
                int plane = ((int)img * channels + c) * h * w;
                for (int ph = 0; ph < outH; ph++)
                    for (int pw = 0; pw < outW; pw++)
                    {
                        double acc = max ? double.NegativeInfinity : 0;
                        for (int iy = 0; iy < gridH; iy++)
                        {
                            double yy = y0 + ph * binH + (iy + 0.5) * binH / gridH;
                            for (int ix = 0; ix < gridW; ix++)
                            {
                                double xx = x0 + pw * binW + (ix + 0.5) * binW / gridW;
                                double v = Sample(x, plane, h, w, yy, xx, max);
                                acc = max ? Math.Max(acc, v) : acc + v;
                            }
                        }
                        if (gridH * gridW == 0) acc = 0;
                        output.SetDouble(((r * channels + c) * outH + ph) * outW + pw, max ? acc : acc / count);
                    }
            }
        }
    }

    /// <summary>Bilinear sample at (y, x); zero outside [−1, size]; edges clamp. Max mode: the largest weighted corner.</summary>
    private static double Sample(Tensor x, int plane, int h, int w, double y, double xq, bool max)
    {
        if (y < -1 || y > h || xq < -1 || xq > w) return 0;
        y = Math.Max(y, 0); xq = Math.Max(xq, 0);
        int yl = (int)y, xl = (int)xq, yh, xh;
        if (yl >= h - 1) { yh = yl = h - 1; y = yl; } else yh = yl + 1;
        if (xl >= w - 1) { xh = xl = w - 1; xq = xl; } else xh = xl + 1;
        double ly = y - yl, lx = xq - xl, hy = 1 - ly, hx = 1 - lx;
        double a = hy * hx * x.GetDouble(plane + yl * w + xl), b = hy * lx * x.GetDouble(plane + yl * w + xh);
        double c = ly * hx * x.GetDouble(plane + yh * w + xl), d = ly * lx * x.GetDouble(plane + yh * w + xh);
        return max ? Math.Max(Math.Max(a, b), Math.Max(c, d)) : a + b + c + d;
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("RoiAlign has no gradient rule.");
}
