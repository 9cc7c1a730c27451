namespace Tessera.Graphs;

/// <summary>
/// Window attributes for N-d convolution and pooling over (N, C, spatial…) input: kernel, strides, pads
/// (begin…, end…), dilations, and ceil mode for the output size. The reference path for ranks and attribute
/// combinations the 2-D kernels do not cover (1-D/3-D windows, dilated or ceil-mode pooling, large pads).
/// </summary>
public sealed record WindowNd(int[] Kernel, int[] Strides, int[] Pads, int[] Dilations, bool Ceil = false)
{
    public int Rank => Kernel.Length;

    public int[] OutputSpatial(string op, ReadOnlySpan<int> spatial)
    {
        if (spatial.Length != Rank || Strides.Length != Rank || Dilations.Length != Rank || Pads.Length != 2 * Rank)
            throw new ShapeMismatchException(op, $"window of rank {Rank} (strides {Strides.Length}, dilations {Dilations.Length}, pads {Pads.Length}) does not fit spatial shape {ShapeMath.Format(spatial)}");
        if (Kernel.Any(k => k < 1) || Strides.Any(s => s < 1) || Dilations.Any(d => d < 1) || Pads.Any(p => p < 0))
            throw new ArgumentException($"{op}: kernel, strides and dilations must be positive and pads non-negative.");
        var result = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            if (spatial[i] < 0) { result[i] = -1; continue; }
            int eff = (Kernel[i] - 1) * Dilations[i] + 1;
            int num = spatial[i] + Pads[i] + Pads[i + Rank] - eff;
            if (num < 0) throw new ShapeMismatchException(op, $"window {eff} does not fit spatial size {spatial[i]} with pads {Pads[i]}+{Pads[i + Rank]}");
            int o = Ceil ? (num + Strides[i] - 1) / Strides[i] + 1 : num / Strides[i] + 1;
            if (Ceil && (o - 1) * Strides[i] >= spatial[i] + Pads[i]) o--;
            result[i] = o;
        }
        return result;
    }

    /// <summary>Visits every output position (row-major over spatial axes).</summary>
    internal static IEnumerable<int[]> Positions(int[] shape)
    {
        int count = 1; foreach (var d in shape) count *= d;
        var idx = new int[shape.Length];
        for (int p = 0; p < count; p++)
        {
            yield return idx;
            for (int d = shape.Length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
    }

    internal static int Flat(int[] idx, int[] shape)
    {
        int f = 0;
        for (int d = 0; d < shape.Length; d++) f = f * shape[d] + idx[d];
        return f;
    }
}

/// <summary>N-d max or average pooling (reference loops); output 1 of max pooling is the argmax indices (int64).</summary>
public sealed class PoolNdOp(bool max, WindowNd window, bool countIncludePad, int output = 0, bool columnMajor = false) : Operation
{
    public WindowNd Window { get; } = window;
    public override string Name => max ? "MaxPool" : "AveragePool";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        var x = inputs[0].Shape;
        if (x.Length != Window.Rank + 2) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} must have rank {Window.Rank + 2}");
        return new TensorType(output == 0 ? inputs[0].DType : DType.Int64, [x[0], x[1], .. Window.OutputSpatial(Name, x[2..])]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous();
        var w = Window; int r = w.Rank;
        var sp = x.Shape[2..].ToArray(); var osp = y.Shape[2..].ToArray();
        int inner = ShapeMath.Count(sp), outInner = ShapeMath.Count(osp);
        int planes = x.Shape[0] * x.Shape[1];
        var kidx = new int[r];
        var pos = new int[r];
        for (int plane = 0; plane < planes; plane++)
            foreach (var o in WindowNd.Positions(osp))
            {
                double best = double.NegativeInfinity, sum = 0; int count = 0, bestIdx = 0;
                foreach (var k in WindowNd.Positions(w.Kernel))
                {
                    bool inside = true, inPadded = true;
                    for (int d = 0; d < r; d++)
                    {
                        pos[d] = o[d] * w.Strides[d] - w.Pads[d] + k[d] * w.Dilations[d];
                        if (pos[d] < 0 || pos[d] >= sp[d]) inside = false;
                        if (pos[d] < -w.Pads[d] || pos[d] >= sp[d] + w.Pads[d + r]) inPadded = false;
                    }
                    if (countIncludePad && inPadded) count++;
                    if (!inside) continue;
                    if (!countIncludePad) count++;
                    int f = WindowNd.Flat(pos, sp);
                    double v = x.GetDouble(plane * inner + f);
                    sum += v;
                    if (v > best || double.IsNaN(v)) { best = v; bestIdx = columnMajor ? ColumnMajor(pos, sp) : f; }
                }
                int yo = plane * outInner + WindowNd.Flat(o, osp);
                if (output == 1) y.SetDouble(yo, plane * (double)inner + bestIdx);
                else y.SetDouble(yo, max ? best : sum / count);
            }
    }

    private static int ColumnMajor(int[] idx, int[] shape)
    {
        int f = 0;
        for (int d = shape.Length - 1; d >= 0; d--) f = f * shape[d] + idx[d];
        return f;
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} (N-d reference) has no gradient rule.");
}

/// <summary>N-d convolution (reference loops): x (N, C, s…), w (K, C/groups, k…), optional bias (K).</summary>
public sealed class ConvNdOp(WindowNd window, int groups) : Operation
{
    public WindowNd Window { get; } = window;
    public override string Name => "Conv";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length is not (2 or 3)) throw new ArgumentException($"{Name}: expected x, w and optionally bias.");
        ExpectFloat(inputs[0]);
        ExpectSameDType(inputs[0], inputs[1]);
        int[] x = inputs[0].Shape, w = inputs[1].Shape;
        if (x.Length != Window.Rank + 2 || w.Length != x.Length) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} and weight {ShapeMath.Format(w)} must both have rank {Window.Rank + 2}");
        if (x[1] >= 0 && x[1] != w[1] * groups) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} has {x[1]} channels, weight {ShapeMath.Format(w)} with {groups} groups expects {w[1] * groups}");
        return new TensorType(inputs[0].DType, [x[0], w[0], .. Window.OutputSpatial(Name, x[2..])]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous(); var w = inputs[1].Contiguous(); var b = inputs.Length == 3 ? inputs[2] : null;
        var win = Window; int r = win.Rank;
        var sp = x.Shape[2..].ToArray(); var osp = y.Shape[2..].ToArray(); var ks = w.Shape[2..].ToArray();
        int n = x.Shape[0], c = x.Shape[1], k = w.Shape[0], cg = c / groups, kg = k / groups;
        int inner = ShapeMath.Count(sp), outInner = ShapeMath.Count(osp), kInner = ShapeMath.Count(ks);
        var pos = new int[r];
        for (int bn = 0; bn < n; bn++)
            for (int oc = 0; oc < k; oc++)
            {
                int g = oc / kg;
                foreach (var o in WindowNd.Positions(osp))
                {
                    double sum = b is null ? 0 : b.GetDouble(oc);
                    foreach (var kk in WindowNd.Positions(ks))
                    {
                        bool inside = true;
                        for (int d = 0; d < r && inside; d++)
                        {
                            pos[d] = o[d] * win.Strides[d] - win.Pads[d] + kk[d] * win.Dilations[d];
                            inside = pos[d] >= 0 && pos[d] < sp[d];
                        }
                        if (!inside) continue;
                        int xf = WindowNd.Flat(pos, sp), kf = WindowNd.Flat(kk, ks);
                        for (int ic = 0; ic < cg; ic++)
                            sum += x.GetDouble((bn * c + g * cg + ic) * inner + xf) * w.GetDouble((oc * cg + ic) * kInner + kf);
                    }
                    y.SetDouble((bn * k + oc) * outInner + WindowNd.Flat(o, osp), sum);
                }
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} (N-d reference) has no gradient rule.");
}

/// <summary>
/// N-d transposed convolution: x (N, C, s…), w (C, K/groups, k…), optional bias (K); each input element scatters
/// w-weighted values to positions i·stride − pad_begin + k·dilation. <see cref="OutputSpatial"/> is the final size.
/// </summary>
public sealed class ConvTransposeNdOp(int[] strides, int[] padsBegin, int[] dilations, int[] outputSpatial, int groups) : Operation
{
    public override string Name => "ConvTranspose";
    public int[] OutputSpatial { get; } = outputSpatial;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length is not (2 or 3)) throw new ArgumentException($"{Name}: expected x, w and optionally bias.");
        ExpectFloat(inputs[0]);
        ExpectSameDType(inputs[0], inputs[1]);
        int[] x = inputs[0].Shape, w = inputs[1].Shape;
        if (x.Length != OutputSpatial.Length + 2 || w.Length != x.Length) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} and weight {ShapeMath.Format(w)} must both have rank {OutputSpatial.Length + 2}");
        if (x[1] >= 0 && x[1] != w[0]) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} has {x[1]} channels, weight {ShapeMath.Format(w)} expects {w[0]}");
        if (OutputSpatial.Any(d => d < 0)) throw new ShapeMismatchException(Name, $"output size ({string.Join(", ", OutputSpatial)}) is negative");
        return new TensorType(inputs[0].DType, [x[0], w[1] * groups, .. OutputSpatial]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = inputs[0].Contiguous(); var w = inputs[1].Contiguous(); var b = inputs.Length == 3 ? inputs[2] : null;
        int r = OutputSpatial.Length;
        var sp = x.Shape[2..].ToArray(); var osp = OutputSpatial; var ks = w.Shape[2..].ToArray();
        int n = x.Shape[0], c = x.Shape[1], kg = w.Shape[1], k = kg * groups, cg = c / groups;
        int inner = ShapeMath.Count(sp), outInner = ShapeMath.Count(osp), kInner = ShapeMath.Count(ks);
        var acc = new double[y.Length];
        var pos = new int[r];
        for (int bn = 0; bn < n; bn++)
            for (int ic = 0; ic < c; ic++)
            {
                int g = ic / cg;
                foreach (var i in WindowNd.Positions(sp))
                {
                    double xv = x.GetDouble((bn * c + ic) * inner + WindowNd.Flat(i, sp));
                    foreach (var kk in WindowNd.Positions(ks))
                    {
                        bool inside = true;
                        for (int d = 0; d < r && inside; d++)
                        {
                            pos[d] = i[d] * strides[d] - padsBegin[d] + kk[d] * dilations[d];
                            inside = pos[d] >= 0 && pos[d] < osp[d];
                        }
                        if (!inside) continue;
                        int of = WindowNd.Flat(pos, osp), kf = WindowNd.Flat(kk, ks);
                        for (int oc = 0; oc < kg; oc++)
                            acc[(bn * k + g * kg + oc) * outInner + of] += xv * w.GetDouble((ic * kg + oc) * kInner + kf);
                    }
                }
            }
        for (int p = 0; p < acc.Length; p++)
        {
            int oc = p / outInner % k;
            y.SetDouble(p, acc[p] + (b is null ? 0 : b.GetDouble(oc)));
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} has no gradient rule.");
}
