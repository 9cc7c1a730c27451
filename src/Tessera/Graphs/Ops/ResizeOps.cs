namespace Tessera.Graphs;

/// <summary>Interpolation of <see cref="ResizeOp"/>.</summary>
public enum ResizeMode { Nearest, Linear, Cubic }

/// <summary>
/// ONNX Resize (and Upsample): separable nearest / linear / cubic interpolation over every axis. Output position x maps
/// to an input coordinate by <c>coordinate_transformation_mode</c>; the n taps nearest to it (2 for nearest and linear,
/// 4 for cubic, edge-clamped) are weighted as the ONNX reference does, including exclude_outside and the
/// tf_crop_and_resize extrapolation value.
/// </summary>
public sealed class ResizeOp(ResizeMode mode, string coordinateMode, string nearestMode, double cubicA, bool excludeOutside,
    double extrapolation, double[] scales, int[] sizes, double[]? roi) : Operation
{
    public override string Name => "Resize";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        if (sizes.Length != inputs[0].Rank) throw new ShapeMismatchException(Name, $"{sizes.Length} output sizes for input {ShapeMath.Format(inputs[0].Shape)}");
        if (sizes.Any(s => s < 0 || s > ShapeLimits.MaxDimension)) throw new ShapeMismatchException(Name, $"output sizes ({string.Join(", ", sizes)}) are out of range");
        return new TensorType(inputs[0].DType, (int[])sizes.Clone());
    }

    /// <summary>Taps (input index, weight) for output index x along an axis; null when the point extrapolates.</summary>
    private (int[] Idx, double[] W)? Taps(int axis, int x, int inSize)
    {
        double scale = scales[axis], outWidth = scale * inSize;
        double xo;
        switch (coordinateMode)
        {
            case "align_corners": xo = outWidth == 1 ? 0 : x * (inSize - 1) / (outWidth - 1); break;
            case "asymmetric": xo = x / scale; break;
            case "tf_half_pixel_for_nn": xo = (x + 0.5) / scale; break;
            case "pytorch_half_pixel": xo = outWidth == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
            case "half_pixel_symmetric":
            {
                // Opset 19: half_pixel shifted so the sampled span is centred when the size was rounded down.
                double adjustment = sizes[axis] / outWidth, center = inSize / 2.0;
                xo = center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
                break;
            }
            case "tf_crop_and_resize":
            {
                int r = scales.Length;
                double start = roi![axis], end = roi[axis + r];
                xo = outWidth == 1 ? (end - start) * (inSize - 1) / 2 : x * (end - start) * (inSize - 1) / (outWidth - 1);
                xo += start * (inSize - 1);
                if (xo < 0 || xo > inSize - 1) return null;
                break;
            }
            default: xo = (x + 0.5) / scale - 0.5; break;
        }
        double fl = Math.Floor(xo);
        bool integral = xo == fl;
        double ratio = integral ? 1 : xo - fl;
        double[] w = mode switch
        {
            ResizeMode.Nearest => integral ? [0, 1] : nearestMode switch
            {
                "round_prefer_ceil" => [ratio < 0.5 ? 1 : 0, ratio >= 0.5 ? 1 : 0],
                "floor" => [1, 0],
                "ceil" => [0, 1],
                _ => [ratio <= 0.5 ? 1 : 0, ratio > 0.5 ? 1 : 0],
            },
            ResizeMode.Linear => [1 - ratio, ratio],
            _ => Cubic(ratio, cubicA),
        };
        int n = w.Length;
        // The n taps nearest xo, preferring lower indices on ties (ratio 1 shifts the window down by one).
        long first = (long)fl - (integral ? n / 2 : n / 2 - 1);
        var idx = new int[n];
        for (int i = 0; i < n; i++)
        {
            long j = first + i;
            if (excludeOutside && (j < 0 || j >= inSize)) w[i] = 0;
            idx[i] = (int)Math.Clamp(j, 0, inSize - 1);
        }
        if (excludeOutside) { double s = w.Sum(); for (int i = 0; i < n; i++) w[i] /= s; }
        return (idx, w);
    }

    private static double[] Cubic(double r, double a) =>
    [
        ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
        ((a + 2) * r - (a + 3)) * r * r + 1,
        ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
        ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a,
    ];

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous();
        int r = x.Rank;
        var inShape = x.ShapeArray();
        var strides = ShapeMath.RowMajorStrides(inShape);
        var taps = new (int[] Idx, double[] W)?[r][];
        for (int d = 0; d < r; d++)
        {
            taps[d] = new (int[], double[])?[sizes[d]];
            for (int o = 0; o < sizes[d]; o++) taps[d][o] = Taps(d, o, inShape[d]);
        }
        var pos = new int[r];
        for (int p = 0; p < y.Length; p++)
        {
            int rem = p;
            for (int d = r - 1; d >= 0; d--) { pos[d] = rem % sizes[d]; rem /= sizes[d]; }
            bool outside = false;
            for (int d = 0; d < r; d++) if (taps[d][pos[d]] is null) outside = true;
            y.SetDouble(p, outside ? extrapolation : Sum(x, taps, pos, strides, 0, 0, 1.0));
        }
    }

    private static double Sum(Tensor x, (int[] Idx, double[] W)?[][] taps, int[] pos, int[] strides, int d, int offset, double weight)
    {
        if (d == pos.Length) return weight * x.GetDouble(offset);
        var (idx, w) = taps[d][pos[d]]!.Value;
        double s = 0;
        for (int i = 0; i < idx.Length; i++)
            if (w[i] != 0) s += Sum(x, taps, pos, strides, d + 1, offset + idx[i] * strides[d], weight * w[i]);
        return s;
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Resize has no gradient rule.");
}

/// <summary>
/// ONNX GridSample (4-D): samples x (N, C, H, W) at the normalized (x, y) positions of grid (N, Ho, Wo, 2) with
/// nearest / bilinear / bicubic interpolation and zeros / border / reflection padding.
/// </summary>
public sealed class GridSampleOp(ResizeMode mode, string paddingMode, bool alignCorners) : Operation
{
    public override string Name => "GridSample";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectFloat(inputs[0]);
        int[] x = inputs[0].Shape, g = inputs[1].Shape;
        if (x.Length != 4 || g.Length != 4 || g[3] != 2) throw new ShapeMismatchException(Name, $"x {ShapeMath.Format(x)} must be (N, C, H, W) and grid {ShapeMath.Format(g)} (N, Ho, Wo, 2)");
        return new TensorType(inputs[0].DType, [x[0], x[1], g[1], g[2]]);
    }

    private double Denormalize(double n, int length) => alignCorners ? (n + 1) / 2 * (length - 1) : ((n + 1) * length - 1) / 2;

    private static double Reflect(double x, double lo, double hi)
    {
        double range = hi - lo;
        if (range <= 0) return lo;
        if (x < lo)
        {
            double dx = lo - x; int n = (int)(dx / range); double r = dx - n * range;
            return n % 2 == 0 ? lo + r : hi - r;
        }
        if (x > hi)
        {
            double dx = x - hi; int n = (int)(dx / range); double r = dx - n * range;
            return n % 2 == 0 ? hi - r : lo + r;
        }
        return x;
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous(); var grid = inputs[1].Contiguous();
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], ho = grid.Shape[1], wo = grid.Shape[2];
        double bx0 = alignCorners ? 0 : -0.5, by0 = bx0, bx1 = alignCorners ? w - 1 : w - 0.5, by1 = alignCorners ? h - 1 : h - 0.5;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < ho; i++)
                for (int j = 0; j < wo; j++)
                {
                    int gp = ((b * ho + i) * wo + j) * 2;
                    double px = Denormalize(grid.GetDouble(gp), w), py = Denormalize(grid.GetDouble(gp + 1), h);
                    if (mode == ResizeMode.Nearest) { px = Math.Round(px, MidpointRounding.ToEven); py = Math.Round(py, MidpointRounding.ToEven); }
                    // Nearest and linear move an outside location in; cubic keeps it and pads each of its 16 taps
                    // (as the ONNX reference and PyTorch do), so near the border the two differ.
                    if (mode != ResizeMode.Cubic && paddingMode == "border") { px = Math.Clamp(px, 0, w - 1); py = Math.Clamp(py, 0, h - 1); }
                    else if (mode != ResizeMode.Cubic && paddingMode == "reflection") { px = Reflect(px, bx0, bx1); py = Reflect(py, by0, by1); }
                    for (int ch = 0; ch < c; ch++)
                    {
                        int plane = (b * c + ch) * h * w;
                        double Pixel(int r, int col)
                        {
                            if (paddingMode == "border") { r = Math.Clamp(r, 0, h - 1); col = Math.Clamp(col, 0, w - 1); }
                            else if (paddingMode == "reflection") { col = (int)Reflect(col, bx0, bx1); r = (int)Reflect(r, by0, by1); }
                            return r < 0 || r >= h || col < 0 || col >= w ? 0 : x.GetDouble(plane + r * w + col);
                        }
                        double v;
                        if (mode == ResizeMode.Nearest) v = Pixel((int)py, (int)px);
                        else if (mode == ResizeMode.Linear)
                        {
                            int x1 = (int)Math.Floor(px), y1 = (int)Math.Floor(py);
                            double dx1 = px - x1, dx2 = x1 + 1 - px, dy1 = py - y1, dy2 = y1 + 1 - py;
                            v = dy2 * (dx2 * Pixel(y1, x1) + dx1 * Pixel(y1, x1 + 1)) + dy1 * (dx2 * Pixel(y1 + 1, x1) + dx1 * Pixel(y1 + 1, x1 + 1));
                        }
                        else
                        {
                            int x0 = (int)Math.Floor(px) - 1, y0 = (int)Math.Floor(py) - 1;
                            var cx = Cubic(px - x0 - 1); var cy = Cubic(py - y0 - 1);
                            v = 0;
                            for (int r = 0; r < 4; r++)
                            {
                                double row = 0;
                                for (int k = 0; k < 4; k++) row += cx[k] * Pixel(y0 + r, x0 + k);
                                v += cy[r] * row;
                            }
                        }
                        y.SetDouble(((b * c + ch) * ho + i) * wo + j, v);
                    }
                }
    }

    private static double[] Cubic(double t)
    {
        const double a = -0.75;
        return
        [
            ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
            ((a + 2) * t - (a + 3)) * t * t + 1,
            ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
            ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a,
        ];
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("GridSample has no gradient rule.");
}
