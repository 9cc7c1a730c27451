namespace Tessera.Graphs;

/// <summary>
/// Complex tensors in these ops follow ONNX: a trailing axis of 2 holds (real, imaginary); a trailing axis of 1 is a
/// real signal. Transforms are direct O(n²) sums in double precision, which is exact enough for the lengths ONNX
/// models use for audio features and keeps one simple code path for every length (no power-of-two restriction).
/// </summary>
internal static class Spectral
{
    public static void ExpectComplexLayout(string op, TensorType t)
    {
        if (t.DType is not (DType.Float32 or DType.Float64))
            throw new DTypeMismatchException(op, $"dtype {t.DType.Name()} is not supported (float32 or float64)");
        if (t.Rank < 2 || t.Shape[^1] is not (1 or 2 or -1))
            throw new ShapeMismatchException(op, $"input {ShapeMath.Format(t.Shape)} must end in an axis of 1 (real) or 2 (complex)");
    }

    /// <summary>
    /// y[k] = Σ_j x[j]·e^(∓2πi·jk/n) for k below the output length, over n samples (the input zero-padded or cut to n);
    /// the inverse uses + and divides by n.
    /// </summary>
    public static void Transform(ReadOnlySpan<double> re, ReadOnlySpan<double> im, int n, bool inverse, Span<double> outRe, Span<double> outIm)
    {
        double sign = inverse ? 1 : -1;
        int count = Math.Min(re.Length, n);
        for (int k = 0; k < outRe.Length; k++)
        {
            double sr = 0, si = 0;
            for (int j = 0; j < count; j++)
            {
                // (jk mod n) keeps the angle small, so cos/sin stay accurate for long transforms.
                double a = sign * 2 * Math.PI * ((long)j * k % n) / n;
                double c = Math.Cos(a), s = Math.Sin(a);
                sr += re[j] * c - im[j] * s;
                si += re[j] * s + im[j] * c;
            }
            if (inverse) { sr /= n; si /= n; }
            outRe[k] = sr; outIm[k] = si;
        }
    }
}

/// <summary>
/// ONNX DFT (opset 17): discrete Fourier transform along <paramref name="axis"/> of a real or complex signal; the
/// output is complex. <paramref name="length"/> zero-pads or truncates the axis; onesided keeps the n/2+1 bins a real
/// signal's spectrum determines.
/// </summary>
public sealed class DftOp(int axis, bool inverse, bool onesided, int? length = null) : Operation
{
    public override string Name => "DFT";

    /// <summary>The signal axis; negative counts from the end of the whole shape, the (real, imaginary) axis excluded.</summary>
    private int Axis(int rank)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank - 1) throw new ArgumentException($"{Name}: axis {axis} is out of range for rank {rank} (the last axis holds real/imaginary parts).");
        return a;
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        Spectral.ExpectComplexLayout(Name, inputs[0]);
        var s = (int[])inputs[0].Shape.Clone();
        int a = Axis(s.Length);
        if (length is < 1) throw new ArgumentException($"{Name}: dft_length must be ≥ 1, got {length}.");
        int n = length ?? s[a];
        s[a] = n < 0 ? -1 : onesided ? n / 2 + 1 : n;
        s[^1] = 2;
        return new TensorType(inputs[0].DType, s);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        int a = Axis(x.Rank);
        int n = length ?? x.Shape[a], bins = output.Shape[a], parts = x.Shape[^1];
        var (outer, m, inner) = GatherOp.Blocks(x.Shape[..^1], a);
        var re = new double[Math.Min(m, n)]; var im = new double[re.Length];
        var yr = new double[bins]; var yi = new double[bins];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                for (int j = 0; j < re.Length; j++)
                {
                    int p = ((o * m + j) * inner + i) * parts;
                    re[j] = x.GetDouble(p);
                    im[j] = parts == 2 ? x.GetDouble(p + 1) : 0;
                }
                Spectral.Transform(re, im, n, inverse, yr, yi);
                for (int k = 0; k < bins; k++)
                {
                    int q = ((o * bins + k) * inner + i) * 2;
                    output.SetDouble(q, yr[k]);
                    output.SetDouble(q + 1, yi[k]);
                }
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("DFT has no gradient rule.");
}

/// <summary>
/// ONNX STFT (opset 17): frames of <paramref name="frameLength"/> samples every <paramref name="frameStep"/>,
/// each multiplied by the window (input 1, when given) and transformed. Output [batch, frames, bins, 2].
/// </summary>
public sealed class StftOp(int frameStep, int frameLength, bool onesided) : Operation
{
    public override string Name => "STFT";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length is not (1 or 2)) throw new ArgumentException($"{Name}: expected a signal and optionally a window, got {inputs.Length} inputs.");
        Spectral.ExpectComplexLayout(Name, inputs[0]);
        var s = inputs[0].Shape;
        if (s.Length != 3) throw new ShapeMismatchException(Name, $"signal {ShapeMath.Format(s)} must be [batch, length, 1 or 2]");
        if (frameStep < 1 || frameLength < 1) throw new ArgumentException($"{Name}: frame_step ({frameStep}) and frame_length ({frameLength}) must be ≥ 1.");
        if (inputs.Length == 2)
        {
            ExpectSameDType(inputs[0], inputs[1]);
            if (inputs[1].Rank != 1 || inputs[1].Shape[0] is var w && w >= 0 && w != frameLength)
                throw new ShapeMismatchException(Name, $"window {ShapeMath.Format(inputs[1].Shape)} must be a vector of frame_length {frameLength}");
        }
        if (s[1] >= 0 && s[1] < frameLength) throw new ShapeMismatchException(Name, $"signal of {s[1]} samples is shorter than frame_length {frameLength}");
        int frames = s[1] < 0 ? -1 : (s[1] - frameLength) / frameStep + 1;
        return new TensorType(inputs[0].DType, [s[0], frames, onesided ? frameLength / 2 + 1 : frameLength, 2]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var window = inputs.Length == 2 ? inputs[1].Contiguous() : null;
        int batch = x.Shape[0], len = x.Shape[1], parts = x.Shape[2], frames = output.Shape[1], bins = output.Shape[2];
        var re = new double[frameLength]; var im = new double[frameLength];
        var yr = new double[bins]; var yi = new double[bins];
        for (int b = 0; b < batch; b++)
            for (int f = 0; f < frames; f++)
            {
                for (int j = 0; j < frameLength; j++)
                {
                    int p = (b * len + f * frameStep + j) * parts;
                    double w = window?.GetDouble(j) ?? 1;
                    re[j] = x.GetDouble(p) * w;
                    im[j] = parts == 2 ? x.GetDouble(p + 1) * w : 0;
                }
                Spectral.Transform(re, im, frameLength, false, yr, yi);
                for (int k = 0; k < bins; k++)
                {
                    int q = ((b * frames + f) * bins + k) * 2;
                    output.SetDouble(q, yr[k]);
                    output.SetDouble(q + 1, yi[k]);
                }
            }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("STFT has no gradient rule.");
}

/// <summary>
/// ONNX MelWeightMatrix (opset 17): [dft_length/2+1, mel_bins] triangular filters, equally spaced on the mel scale
/// (2595·log10(1 + f/700)) between the edge frequencies, with corners rounded down to whole spectrogram bins.
/// </summary>
public sealed class MelWeightMatrixOp(int melBins, int dftLength, int sampleRate, double lowerHz, double upperHz, DType dtype) : Operation
{
    public override string Name => "MelWeightMatrix";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 0);
        if (melBins < 1 || dftLength < 1 || sampleRate < 1 || melBins > ShapeLimits.MaxDimension || dftLength > ShapeLimits.MaxDimension)
            throw new ArgumentException($"{Name}: num_mel_bins ({melBins}), dft_length ({dftLength}) and sample_rate ({sampleRate}) must be positive.");
        if (!(lowerHz >= 0 && upperHz > lowerHz && upperHz <= sampleRate / 2.0))
            throw new ArgumentException($"{Name}: edges must satisfy 0 ≤ lower ({lowerHz}) < upper ({upperHz}) ≤ sample_rate/2 ({sampleRate / 2.0}).");
        return new TensorType(dtype, [dftLength / 2 + 1, melBins]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        static double Mel(double hz) => 2595 * Math.Log10(1 + hz / 700);
        double low = Mel(lowerHz), step = (Mel(upperHz) - low) / (melBins + 2);
        // Corner k of the filters: mel point k mapped back to Hz, then to the spectrogram bin below it.
        var corner = new int[melBins + 2];
        for (int k = 0; k < corner.Length; k++)
        {
            double hz = 700 * (Math.Pow(10, (low + k * step) / 2595) - 1);
            corner[k] = (int)Math.Floor((dftLength + 1) * hz / sampleRate);
        }
        output.Fill(0);
        int bins = output.Shape[0];
        for (int m = 0; m < melBins; m++)
        {
            int left = corner[m], center = corner[m + 1], right = corner[m + 2];
            if (center == left) Set(center, m, 1);
            else for (int j = left; j <= center; j++) Set(j, m, (double)(j - left) / (center - left));
            if (right > center) for (int j = center; j < right; j++) Set(j, m, (double)(right - j) / (right - center));
        }

        void Set(int bin, int m, double v) { if (bin >= 0 && bin < bins) output.SetDouble(bin * melBins + m, v); }
    }

    public override Node?[] Gradient(Node output, Node gy) => [];
}
