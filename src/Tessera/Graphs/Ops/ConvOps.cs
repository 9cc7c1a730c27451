using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>Window attributes of a 2-D convolution or pooling: strides, pads (top, left, bottom, right), dilations.</summary>
public sealed record Window2d(int[] Strides, int[] Pads, int[] Dilations, int Groups = 1)
{
    public static Window2d Create(int[]? strides, int[]? pads, int[]? dilations, int groups = 1)
    {
        strides ??= [1, 1]; pads ??= [0, 0, 0, 0]; dilations ??= [1, 1];
        if (strides.Length != 2 || strides.Any(s => s < 1)) throw new ArgumentException($"strides must be two positive numbers, got [{string.Join(", ", strides)}].");
        if (pads.Length == 2) pads = [pads[0], pads[1], pads[0], pads[1]];
        if (pads.Length != 4 || pads.Any(p => p < 0)) throw new ArgumentException($"pads must be [top, left, bottom, right] ≥ 0, got [{string.Join(", ", pads)}].");
        if (dilations.Length != 2 || dilations.Any(d => d < 1)) throw new ArgumentException($"dilations must be two positive numbers, got [{string.Join(", ", dilations)}].");
        if (groups < 1) throw new ArgumentException($"groups must be ≥ 1, got {groups}.");
        return new Window2d(strides, pads, dilations, groups);
    }

    public Conv2dGeometry Geometry(ReadOnlySpan<int> x, int k, int r, int s) =>
        new(x[0], x[1], x[2], x[3], k, r, s, Strides[0], Strides[1], Pads[0], Pads[1], Pads[2], Pads[3], Dilations[0], Dilations[1], Groups);

    internal int[] OutputShape(string op, int[] x, int k, int r, int s)
    {
        if (x[2] < 0 || x[3] < 0) return [x[0], k, -1, -1];
        var geo = Geometry(x, k, r, s);
        if (geo.OutH < 1 || geo.OutW < 1)
            throw new ShapeMismatchException(op, $"a {r}×{s} window (dilation {Dilations[0]}×{Dilations[1]}) does not fit input {ShapeMath.Format(x)} with pads [{string.Join(", ", Pads)}]");
        return [x[0], k, geo.OutH, geo.OutW];
    }
}

/// <summary>Calls a float32/float64 kernel on contiguous spans of the given tensors.</summary>
internal static class FloatDispatch
{
    public delegate void Kernel<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, Span<T> y) where T : unmanaged;

    public static void Run(Tensor? a, Tensor? b, Tensor? c, Tensor y, Kernel<float> f32, Kernel<double> f64)
    {
        if (y.DType == DType.Float32) Run(a, b, c, y, f32);
        else Run(a, b, c, y, f64);
    }

    private static void Run<T>(Tensor? a, Tensor? b, Tensor? c, Tensor y, Kernel<T> k) where T : unmanaged =>
        k(Span<T>(a), Span<T>(b), Span<T>(c), y.AsSpan<T>());

    private static ReadOnlySpan<T> Span<T>(Tensor? t) where T : unmanaged => t is null ? default : t.Contiguous().AsSpan<T>();
}

/// <summary>2-D convolution over NCHW input: x (N, C, H, W), w (K, C/groups, R, S), optional bias (K).</summary>
public sealed class Conv2dOp(Window2d window) : Operation
{
    public Window2d Window { get; } = window;
    public override string Name => "Conv2d";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length is not (2 or 3)) throw new ArgumentException($"{Name}: expected x, w and optionally bias; got {inputs.Length} inputs.");
        ExpectFloat(inputs[0]);
        ExpectSameDType(inputs[0], inputs[1]);
        int[] x = inputs[0].Shape, w = inputs[1].Shape;
        if (x.Length != 4) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} must be 4-D (N, C, H, W)");
        if (w.Length != 4) throw new ShapeMismatchException(Name, $"weight {ShapeMath.Format(w)} must be 4-D (K, C/groups, R, S)");
        int groups = Window.Groups;
        if (x[1] >= 0 && x[1] != w[1] * groups)
            throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} has {x[1]} channels but weight {ShapeMath.Format(w)} with {groups} group(s) expects {w[1] * groups}");
        if (w[0] % groups != 0)
            throw new ShapeMismatchException(Name, $"weight {ShapeMath.Format(w)}: {w[0]} output channels do not split into {groups} groups");
        if (inputs.Length == 3)
        {
            ExpectSameDType(inputs[0], inputs[2]);
            if (inputs[2].Shape.Length != 1 || inputs[2].Shape[0] != w[0])
                throw new ShapeMismatchException(Name, $"bias {ShapeMath.Format(inputs[2].Shape)} must be ({w[0]},) for weight {ShapeMath.Format(w)}");
        }
        return new TensorType(inputs[0].DType, Window.OutputShape(Name, x, w[0], w[2], w[3]));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var w = inputs[1];
        var geo = Window.Geometry(inputs[0].Shape, w.Shape[0], w.Shape[2], w.Shape[3]);
        FloatDispatch.Run(inputs[0], w, inputs.Length == 3 ? inputs[2] : null, output,
            (x, wt, b, y) => Conv2dKernel.Forward(geo, x, wt, b, y),
            (x, wt, b, y) => Conv2dKernel.Forward(geo, x, wt, b, y));
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        Node x = output.Inputs[0], w = output.Inputs[1];
        var gx = gy.Graph.Apply(new Conv2dBackwardDataOp(Window), gy, w, x);
        var gw = gy.Graph.Apply(new Conv2dBackwardWeightOp(Window), x, gy, w);
        return output.Inputs.Count == 3 ? [gx, gw, gy.Graph.Apply(new Conv2dBackwardBiasOp(), gy)] : [gx, gw];
    }
}

/// <summary>∂L/∂bias of a convolution: the sum of gy (N, K, H, W) over N, H and W, one contiguous plane at a time.</summary>
public sealed class Conv2dBackwardBiasOp : Operation
{
    public override string Name => "Conv2dBackwardBias";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        if (inputs[0].Shape.Length != 4) throw new ShapeMismatchException(Name, $"gradient {ShapeMath.Format(inputs[0].Shape)} must be 4-D (N, K, H, W)");
        return new TensorType(inputs[0].DType, [inputs[0].Shape[1]]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var s = inputs[0].Shape;
        var geo = new Conv2dGeometry(s[0], s[1], s[2], s[3], s[1], 1, 1);
        FloatDispatch.Run(inputs[0], null, null, output,
            (dy, _, _, db) => Conv2dKernel.BackwardBias(geo, dy, db),
            (dy, _, _, db) => Conv2dKernel.BackwardBias(geo, dy, db));
    }

    // Linear in gy: the adjoint broadcasts the bias gradient back over N, H and W.
    public override Node?[] Gradient(Node output, Node gg) =>
        [Ops.ExpandLike(Ops.Reshape(gg, 1, -1, 1, 1), output.Inputs[0])];
}

/// <summary>∂L/∂x of a convolution: inputs (gy, w, x as shape reference). Linear in gy and w, so differentiable again.</summary>
public sealed class Conv2dBackwardDataOp(Window2d window) : Operation
{
    public override string Name => "Conv2dBackwardData";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(inputs[0].DType, inputs[2].Shape);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var w = inputs[1];
        var geo = window.Geometry(output.Shape, w.Shape[0], w.Shape[2], w.Shape[3]);
        FloatDispatch.Run(inputs[0], w, null, output,
            (dy, wt, _, dx) => Conv2dKernel.BackwardData(geo, dy, wt, dx),
            (dy, wt, _, dx) => Conv2dKernel.BackwardData(geo, dy, wt, dx));
    }

    public override Node?[] Gradient(Node output, Node gg)
    {
        Node gy = output.Inputs[0], w = output.Inputs[1];
        // <BD(gy, w), gg> = <gy, conv(gg, w)> = <w, BW(gg, gy)>
        return [gg.Graph.Apply(new Conv2dOp(window), gg, w), gg.Graph.Apply(new Conv2dBackwardWeightOp(window), gg, gy, w), null];
    }
}

/// <summary>∂L/∂w of a convolution: inputs (x, gy, w as shape reference). Linear in x and gy.</summary>
public sealed class Conv2dBackwardWeightOp(Window2d window) : Operation
{
    public override string Name => "Conv2dBackwardWeight";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(inputs[0].DType, inputs[2].Shape);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var geo = window.Geometry(inputs[0].Shape, output.Shape[0], output.Shape[2], output.Shape[3]);
        FloatDispatch.Run(inputs[0], inputs[1], null, output,
            (x, dy, _, dw) => Conv2dKernel.BackwardWeight(geo, x, dy, dw),
            (x, dy, _, dw) => Conv2dKernel.BackwardWeight(geo, x, dy, dw));
    }

    public override Node?[] Gradient(Node output, Node gg)
    {
        Node x = output.Inputs[0], gy = output.Inputs[1];
        // <BW(x, gy), gg> = <gy, conv(x, gg)> = <x, BD(gy, gg)>
        return [gg.Graph.Apply(new Conv2dBackwardDataOp(window), gy, gg, x), gg.Graph.Apply(new Conv2dOp(window), x, gg), null];
    }
}

/// <summary>Max or average pooling over NCHW input with an R×S window.</summary>
public sealed class Pool2dOp(bool max, int[] kernel, Window2d window, bool countIncludePad) : Operation
{
    public bool IsMax { get; } = max;
    public int[] Kernel { get; } = kernel;
    public Window2d Window { get; } = window;
    public bool CountIncludePad { get; } = countIncludePad;
    public override string Name => IsMax ? "MaxPool2d" : "AvgPool2d";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        var x = inputs[0].Shape;
        if (x.Length != 4) throw new ShapeMismatchException(Name, $"input {ShapeMath.Format(x)} must be 4-D (N, C, H, W)");
        if (Kernel.Length != 2 || Kernel.Any(k => k < 1)) throw new ArgumentException($"{Name}: kernel must be two positive sizes, got [{string.Join(", ", Kernel)}].");
        if (Window.Pads[0] * 2 > Kernel[0] || Window.Pads[1] * 2 > Kernel[1])
            throw new ArgumentException($"{Name}: pads [{string.Join(", ", Window.Pads)}] must be at most half the kernel [{string.Join(", ", Kernel)}].");
        return new TensorType(inputs[0].DType, Window.OutputShape(Name, x, x[1], Kernel[0], Kernel[1]));
    }

    internal Conv2dGeometry Geometry(ReadOnlySpan<int> x) => Window.Geometry(x, x[1], Kernel[0], Kernel[1]);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var geo = Geometry(inputs[0].Shape);
        bool include = CountIncludePad;
        if (IsMax)
            FloatDispatch.Run(inputs[0], null, null, output, (x, _, _, y) => Pool2dKernel.MaxForward(geo, x, y), (x, _, _, y) => Pool2dKernel.MaxForward(geo, x, y));
        else
            FloatDispatch.Run(inputs[0], null, null, output, (x, _, _, y) => Pool2dKernel.AvgForward(geo, include, x, y), (x, _, _, y) => Pool2dKernel.AvgForward(geo, include, x, y));
    }

    public override Node?[] Gradient(Node output, Node gy) =>
        [gy.Graph.Apply(new Pool2dGradOp(this), gy, output.Inputs[0])];
}

/// <summary>
/// ∂L/∂x of a pooling: inputs (gy, x). Max routes each gradient to its window's first maximum. With
/// <see cref="ReluMask"/> (max only) a routed gradient is kept only where x &gt; 0: the backward pass of ReLU then
/// max pooling in one sweep, when x is the ReLU's output (ReluOp's gradient rule builds it).
/// </summary>
public sealed class Pool2dGradOp(Pool2dOp pool, bool reluMask = false) : Operation
{
    public Pool2dOp Pool { get; } = pool;
    public bool ReluMask { get; } = reluMask && pool.IsMax;
    public override string Name => Pool.Name + (ReluMask ? "ReluGrad" : "Grad");
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(inputs[0].DType, inputs[1].Shape);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var geo = Pool.Geometry(output.Shape);
        bool include = Pool.CountIncludePad;
        if (Pool.IsMax)
        {
            bool mask = ReluMask;
            FloatDispatch.Run(inputs[1], inputs[0], null, output, (x, dy, _, dx) => Pool2dKernel.MaxBackward(geo, x, dy, dx, mask), (x, dy, _, dx) => Pool2dKernel.MaxBackward(geo, x, dy, dx, mask));
        }
        else
            FloatDispatch.Run(inputs[0], null, null, output, (dy, _, _, dx) => Pool2dKernel.AvgBackward(geo, include, dy, dx), (dy, _, _, dx) => Pool2dKernel.AvgBackward(geo, include, dy, dx));
    }

    public override Node?[] Gradient(Node output, Node gg)
    {
        // Average pooling's gradient is linear in gy with adjoint AvgPool; max routing is piecewise constant in x.
        if (!Pool.IsMax) return [gg.Graph.Apply(Pool, gg), null];
        throw new NotSupportedException("MaxPool2dGrad has no second-order gradient rule.");
    }
}
