using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Ops on channel-blocked float tensors [N, ⌈C/16⌉, H, W, 16] (NCHWc) that <see cref="NchwcLayout"/> puts into an
/// inference graph so consecutive convolutions and poolings pass blocked tensors to each other instead of
/// converting at every op. Each knows the logical channel count C; channels past C are zero after a convolution
/// (zero filters and bias) and are never read into a logical result. Inference only: no gradients.
/// </summary>
internal static class NchwcShapes
{
    public static int[] Blocked(int n, int c, int h, int w) => [n, NchwcConv.Blocks(c), h, w, NchwcConv.Block];

    /// <summary>The logical NCHW shape of a blocked tensor holding <paramref name="channels"/> channels; checks its block axes.</summary>
    public static int[] Logical(string op, int[] blocked, int channels)
    {
        if (blocked.Length != 5 || blocked[4] != NchwcConv.Block || blocked[1] != -1 && blocked[1] != NchwcConv.Blocks(channels))
            throw new ShapeMismatchException(op, $"input {ShapeMath.Format(blocked)} is not a channel-blocked tensor of {channels} channels [N, {NchwcConv.Blocks(channels)}, H, W, {NchwcConv.Block}]");
        return [blocked[0], channels, blocked[2], blocked[3]];
    }

    /// <summary>The logical NCHW shape of a dense blocked convolution's input: blocked, or plain for plain-input weights.</summary>
    public static int[] ConvInput(string op, NchwcWeights w, int[] x)
    {
        if (w.BlockedInput) return Logical(op, x, w.C);
        if (x.Length != 4 || x[1] != w.C) throw new ShapeMismatchException(op, $"input {ShapeMath.Format(x)} must be [N, {w.C}, H, W]");
        return x;
    }

    /// <summary>Same rank and equal sizes wherever both are known (-1 is a dynamic size).</summary>
    public static bool Compatible(int[] a, int[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i] && a[i] != -1 && b[i] != -1) return false;
        return true;
    }

    /// <summary>
    /// y = act(y + residual) for a residual whose run-time shape differs from y's (the fusion saw equal build-time
    /// shapes, but a dynamic batch of 1 still broadcasts): the unfused Add, Relu/Clip on the blocked tensors, which
    /// broadcast along N exactly as the NCHW ones do (any other mismatch is reported by Add with both shapes).
    /// </summary>
    public static void AddBroadcastResidual(Tensor y, Tensor residual, ConvEpilogue epilogue)
    {
        new AddOp().Forward([y, residual], y);
        switch (epilogue.Activation)
        {
            case ConvActivation.Relu: new ReluOp().Forward([y], y); break;
            case ConvActivation.Clip: new ClipOp(epilogue.ClipMin, epilogue.ClipMax).Forward([y], y); break;
        }
    }

    /// <summary>A residual of the output's shape, or of batch 1 (broadcast over the batch at run time).</summary>
    public static bool ResidualFits(int[] residual, int[] output) =>
        Compatible(residual, output) || residual.Length == output.Length && residual[0] == 1 && Compatible(residual[1..], output[1..]);

    public static void ExpectFloat32(string op, TensorType t)
    {
        if (t.DType != DType.Float32) throw new ArgumentException($"{op}: channel-blocked ops take float32, got {t.DType.Name()}.");
    }
}

/// <summary>NCHW [N, C, H, W] → channel-blocked [N, ⌈C/16⌉, H, W, 16], the extra channels zero.</summary>
public sealed class ToNchwcOp(int channels) : Operation
{
    public int Channels { get; } = channels;
    public override string Name => "ToNchwc";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        var x = inputs[0].Shape;
        if (x.Length != 4 || x[1] != Channels) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} must be [N, {Channels}, H, W]");
        return new TensorType(DType.Float32, NchwcShapes.Blocked(x[0], Channels, x[2], x[3]));
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        fixed (float* px = x.AsSpan<float>(), py = output.AsSpan<float>())
            NchwcConv.ToBlocked(px, x.Shape[0], Channels, x.Shape[2] * x.Shape[3], py);
    }
}

/// <summary>Channel-blocked [N, ⌈C/16⌉, H, W, 16] → NCHW [N, C, H, W].</summary>
public sealed class FromNchwcOp(int channels) : Operation
{
    public int Channels { get; } = channels;
    public override string Name => "FromNchwc";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        return new TensorType(DType.Float32, NchwcShapes.Logical(Name, inputs[0].Shape, Channels));
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        fixed (float* px = x.AsSpan<float>(), py = output.AsSpan<float>())
            NchwcConv.FromBlocked(px, x.Shape[0], Channels, x.Shape[2] * x.Shape[3], py);
    }
}

/// <summary>
/// A blocked convolution with its epilogue, y = act(conv(x, w) + bias + residual), inputs (x, [residual]); the
/// shape rule and the residual handling shared by the dense and the depthwise op, which differ only in their
/// weights and kernel.
/// </summary>
public abstract class NchwcConvOpBase(Window2d window, bool hasResidual, ConvEpilogue epilogue) : Operation
{
    public Window2d Window { get; } = window;
    public bool HasResidual { get; } = hasResidual;
    public ConvEpilogue Epilogue { get; } = epilogue;

    /// <summary>Output channels, kernel rows and columns.</summary>
    protected abstract (int K, int R, int S) Kernel { get; }

    /// <summary>The logical NCHW shape of input x (checking its layout).</summary>
    protected abstract int[] LogicalInput(int[] x);

    /// <summary>The kernel on contiguous blocked buffers; residual is null or of y's shape.</summary>
    protected abstract unsafe void Run(in Conv2dGeometry geo, float* x, float* residual, in ConvEpilogue epilogue, float* y);

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, HasResidual ? 2 : 1);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        var (k, r, s) = Kernel;
        var y = Window.OutputShape(Name, LogicalInput(inputs[0].Shape), k, r, s);
        var blocked = NchwcShapes.Blocked(y[0], k, y[2], y[3]);
        if (HasResidual && !NchwcShapes.ResidualFits(inputs[1].Shape, blocked))
            throw new ShapeMismatchException(Name, $"residual {ShapeMath.Format(inputs[1].Shape)} does not match the output {ShapeMath.Format(blocked)}");
        return new TensorType(DType.Float32, blocked);
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var (k, r, s) = Kernel;
        var geo = Window.Geometry(LogicalInput(x.ShapeArray()), k, r, s);
        var residual = HasResidual ? inputs[1].Contiguous() : null;
        bool broadcast = residual is not null && !residual.Shape.SequenceEqual(output.Shape);
        fixed (float* px = x.AsSpan<float>(), py = output.AsSpan<float>())
        fixed (float* pr = residual is null || broadcast ? default : residual.AsSpan<float>())
            Run(geo, px, pr, broadcast ? ConvEpilogue.None : Epilogue, py);
        if (broadcast) NchwcShapes.AddBroadcastResidual(output, residual!, Epilogue);
    }
}

/// <summary>
/// y = act(conv(x, w) + bias + residual) with constant weights packed for <see cref="NchwcConv"/>; x is blocked, or
/// plain NCHW when the weights read few input channels; residual (optional) and y are blocked.
/// </summary>
public sealed class NchwcConv2dOp(Window2d window, NchwcWeights weights, bool hasResidual, ConvEpilogue epilogue)
    : NchwcConvOpBase(window, hasResidual, epilogue)
{
    public NchwcWeights Weights { get; } = weights;
    public override string Name => "NchwcConv" + Epilogue.NameSuffix(HasResidual);
    protected override (int K, int R, int S) Kernel => (Weights.K, Weights.R, Weights.S);
    protected override int[] LogicalInput(int[] x) => NchwcShapes.ConvInput(Name, Weights, x);

    protected override unsafe void Run(in Conv2dGeometry geo, float* x, float* residual, in ConvEpilogue epilogue, float* y) =>
        NchwcConv.Forward(geo, Weights, x, residual, epilogue, y);
}

/// <summary>Pooling of a blocked tensor: the shape rule and geometry shared by max and average pooling.</summary>
public abstract class NchwcPoolOpBase(int channels, int[] kernel, Window2d window) : Operation
{
    public int Channels { get; } = channels;
    public int[] Kernel { get; } = kernel;
    public Window2d Window { get; } = window;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        var y = Window.OutputShape(Name, NchwcShapes.Logical(Name, inputs[0].Shape, Channels), Channels, Kernel[0], Kernel[1]);
        return new TensorType(DType.Float32, NchwcShapes.Blocked(y[0], Channels, y[2], y[3]));
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var geo = Window.Geometry(NchwcShapes.Logical(Name, x.ShapeArray(), Channels), Channels, Kernel[0], Kernel[1]);
        fixed (float* px = x.AsSpan<float>(), py = output.AsSpan<float>())
            Pool(geo, px, py);
    }

    protected abstract unsafe void Pool(in Conv2dGeometry geo, float* x, float* y);
}

/// <summary>Max pooling of a blocked tensor (padding never wins, as ONNX MaxPool).</summary>
public sealed class NchwcMaxPoolOp(int channels, int[] kernel, Window2d window) : NchwcPoolOpBase(channels, kernel, window)
{
    public override string Name => "NchwcMaxPool";
    protected override unsafe void Pool(in Conv2dGeometry geo, float* x, float* y) => NchwcPool.MaxForward(geo, x, y);
}

/// <summary>Average pooling of a blocked tensor (ONNX AveragePool's windows and divisors, as <see cref="Pool2dOp"/>).</summary>
public sealed class NchwcAveragePoolOp(int channels, int[] kernel, Window2d window, bool countIncludePad)
    : NchwcPoolOpBase(channels, kernel, window)
{
    public override string Name => "NchwcAvgPool";
    protected override unsafe void Pool(in Conv2dGeometry geo, float* x, float* y) => NchwcPool.AverageForward(geo, countIncludePad, x, y);
}

/// <summary>
/// x·scale (+ shift) per channel on a blocked tensor. Inputs: x [N, ⌈C/16⌉, H, W, 16], scale [N or 1, ⌈C/16⌉, 1, 1, 16]
/// (a squeeze-and-excitation gate, a constant scale), with <paramref name="hasShift"/> a constant shift [1, ⌈C/16⌉, 1, 1, 16].
/// One vector multiply (or fused multiply-add, which may differ from Mul then Add by one rounding) per pixel, where
/// the elementwise ops would walk the broadcast 16 values at a time.
/// </summary>
public sealed class NchwcChannelAffineOp(int channels, bool hasShift) : Operation
{
    public int Channels { get; } = channels;
    public bool HasShift { get; } = hasShift;
    public override string Name => HasShift ? "NchwcChannelAffine" : "NchwcChannelScale";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, HasShift ? 3 : 2);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        var x = NchwcShapes.Logical(Name, inputs[0].Shape, Channels);
        var s = NchwcShapes.Logical(Name, inputs[1].Shape, Channels);
        if (s[2] != 1 || s[3] != 1 || !(s[0] == 1 || s[0] == x[0]))
            throw new ShapeMismatchException(Name, $"scale {ShapeMath.Format(s)} must be [1 or {x[0]}, {Channels}, 1, 1] for x {ShapeMath.Format(x)}");
        var perChannel = NchwcShapes.Blocked(1, Channels, 1, 1);
        if (HasShift && !inputs[2].Shape.AsSpan().SequenceEqual(perChannel))
            throw new ShapeMismatchException(Name, $"the shift must be blocked per-channel {ShapeMath.Format(perChannel)}, got {ShapeMath.Format(inputs[2].Shape)}");
        return new TensorType(DType.Float32, NchwcShapes.Blocked(x[0], Channels, x[2], x[3]));
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var scale = inputs[1].Contiguous();
        var shift = HasShift ? inputs[2].Contiguous() : null;
        var sh = x.ShapeArray();
        if (scale.Shape[0] != 1 && scale.Shape[0] != sh[0])
            throw new ShapeMismatchException(Name, $"scale {scale.ShapeString} does not match x {x.ShapeString}");
        fixed (float* px = x.AsSpan<float>(), ps = scale.AsSpan<float>(), pt = shift is null ? default : shift.AsSpan<float>(), py = output.AsSpan<float>())
            NchwcPool.ChannelAffine(px, ps, scale.Shape[0] != 1 || sh[0] == 1, shift is null ? null : pt, py, sh[0], sh[1], sh[2] * sh[3]);
    }
}

/// <summary>Mean over H and W of a blocked tensor: [N, C, 1, 1] with keepDims, else [N, C].</summary>
public sealed class NchwcGlobalAveragePoolOp(int channels, bool keepDims) : Operation
{
    public int Channels { get; } = channels;
    public bool KeepDims { get; } = keepDims;
    public override string Name => "NchwcGlobalAveragePool";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        NchwcShapes.ExpectFloat32(Name, inputs[0]);
        var x = NchwcShapes.Logical(Name, inputs[0].Shape, Channels);
        return new TensorType(DType.Float32, KeepDims ? [x[0], Channels, 1, 1] : [x[0], Channels]);
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        fixed (float* px = x.AsSpan<float>(), py = output.AsSpan<float>())
            NchwcPool.GlobalAverage(px, x.Shape[0], Channels, x.Shape[2] * x.Shape[3], py);
    }
}

/// <summary>Depthwise y = act(conv(x, w) + bias + residual) (groups = C = K) on blocked tensors, constant weights packed per block.</summary>
public sealed class NchwcDepthwiseConv2dOp(Window2d window, NchwcDepthwiseWeights weights, bool hasResidual, ConvEpilogue epilogue)
    : NchwcConvOpBase(window, hasResidual, epilogue)
{
    public NchwcDepthwiseWeights Weights { get; } = weights;
    public override string Name => "NchwcDepthwiseConv" + Epilogue.NameSuffix(HasResidual);
    protected override (int K, int R, int S) Kernel => (Weights.C, Weights.R, Weights.S);
    protected override int[] LogicalInput(int[] x) => NchwcShapes.Logical(Name, x, Weights.C);

    protected override unsafe void Run(in Conv2dGeometry geo, float* x, float* residual, in ConvEpilogue epilogue, float* y) =>
        NchwcConv.DepthwiseForward(geo, Weights, x, residual, epilogue, y);
}

/// <summary>
/// Several convolutions whose outputs a channel Concat joins, each writing straight into its blocks of the joined
/// tensor (squeezenet's fire modules: expand 1×1 and expand 3×3 of the same input): no concat copy. Inputs: one x
/// per convolution (blocked, or plain for a plain-input convolution); every convolution's K is a multiple of 16.
/// </summary>
public sealed class NchwcConcatConvOp : Operation
{
    public sealed record Part(Window2d Window, NchwcWeights Weights, ConvEpilogue Epilogue);

    public IReadOnlyList<Part> Parts { get; }

    public NchwcConcatConvOp(IReadOnlyList<Part> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("NchwcConcatConv: needs at least one convolution.");
        foreach (var p in parts)
            if (p.Weights.K % NchwcConv.Block != 0)
                throw new ArgumentException($"NchwcConcatConv: a part of {p.Weights.K} channels does not fill whole blocks of {NchwcConv.Block}.");
        Parts = parts;
    }

    public override string Name => "NchwcConcatConv";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, Parts.Count);
        int[]? first = null;
        int blocks = 0;
        for (int i = 0; i < Parts.Count; i++)
        {
            NchwcShapes.ExpectFloat32(Name, inputs[i]);
            var p = Parts[i];
            var y = p.Window.OutputShape(Name, NchwcShapes.ConvInput(Name, p.Weights, inputs[i].Shape), p.Weights.K, p.Weights.R, p.Weights.S);
            if (first is null) first = y;
            else if (!NchwcShapes.Compatible([y[0], y[2], y[3]], [first[0], first[2], first[3]]))
                throw new ShapeMismatchException(Name, $"part {i} gives {ShapeMath.Format(y)}, part 0 {ShapeMath.Format(first)}: the concat needs equal N, H, W");
            blocks += p.Weights.KBlocks;
        }
        return new TensorType(DType.Float32, [first![0], blocks, first[2], first[3], NchwcConv.Block]);
    }

    public override unsafe void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        int total = output.Shape[1], offset = 0;
        long plane = (long)output.Shape[2] * output.Shape[3] * NchwcConv.Block;
        fixed (float* py = output.AsSpan<float>())
            for (int i = 0; i < Parts.Count; i++)
            {
                var p = Parts[i];
                var x = inputs[i].Contiguous();
                var geo = p.Window.Geometry(NchwcShapes.ConvInput(Name, p.Weights, x.ShapeArray()), p.Weights.K, p.Weights.R, p.Weights.S);
                fixed (float* px = x.AsSpan<float>())
                    NchwcConv.ForwardInto(geo, p.Weights, px, null, p.Epilogue, py + offset * plane, total);
                offset += p.Weights.KBlocks;
            }
    }
}
