using Tessera.Graphs;

namespace Tessera.Nn;

/// <summary>2-D convolution over NCHW input; weight (out, in/groups, kH, kW) as PyTorch stores it.</summary>
public sealed class Conv2d : Module
{
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, bool bias = true, int seed = 0, DType dtype = DType.Float32)
    {
        if (inChannels < 1 || outChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels), $"Conv2d: channels must be ≥ 1, got in={inChannels} out={outChannels}");
        if (kernelSize < 1) throw new ArgumentOutOfRangeException(nameof(kernelSize), $"Conv2d: kernel_size must be ≥ 1, got {kernelSize}");
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: groups={groups} must divide in_channels={inChannels} and out_channels={outChannels}.", nameof(groups));
        InChannels = inChannels; OutChannels = outChannels;
        Strides = [stride, stride]; Pads = [padding, padding, padding, padding]; Dilations = [dilation, dilation]; Groups = groups;
        int fanIn = inChannels / groups * kernelSize * kernelSize;
        Weight = AddParameter("weight", Init.FanInUniform(seed, fanIn, dtype, outChannels, inChannels / groups, kernelSize, kernelSize));
        Bias = bias ? AddParameter("bias", Init.FanInUniform(seed + 1, fanIn, dtype, outChannels)) : null;
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int[] Strides { get; }
    public int[] Pads { get; }
    public int[] Dilations { get; }
    public int Groups { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public override Node Forward(Node x, ForwardContext ctx) =>
        Ops.Conv2d(x, ctx.Bind(Weight), Bias is null ? null : ctx.Bind(Bias), Strides, Pads, Dilations, Groups);
}

/// <summary>Max pooling; stride defaults to the kernel size (PyTorch's default).</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride ?? kernelSize;
    public int Padding { get; } = padding;

    public override Node Forward(Node x, ForwardContext ctx) =>
        Ops.MaxPool2d(x, [KernelSize, KernelSize], [Stride, Stride], [Padding, Padding]);
}

/// <summary>Average pooling; like PyTorch, padded positions count in the divisor unless countIncludePad is false.</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool countIncludePad = true) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride ?? kernelSize;
    public int Padding { get; } = padding;
    public bool CountIncludePad { get; } = countIncludePad;

    public override Node Forward(Node x, ForwardContext ctx) =>
        Ops.AvgPool2d(x, [KernelSize, KernelSize], [Stride, Stride], [Padding, Padding], CountIncludePad);
}

/// <summary>Mean over the spatial axes: (N, C, H, W) → (N, C).</summary>
public sealed class GlobalAvgPool2d : Module
{
    public override Node Forward(Node x, ForwardContext ctx) => Ops.GlobalAvgPool2d(x);
}

/// <summary>(N, d1, d2, …) → (N, d1·d2·…). The trailing sizes must be known when the graph is built.</summary>
public sealed class Flatten : Module
{
    public override Node Forward(Node x, ForwardContext ctx)
    {
        if (x.Rank < 2) return x;
        int rest = 1;
        foreach (var d in x.Shape.Skip(1))
        {
            if (d < 0) throw new ShapeMismatchException("Flatten", $"input {ShapeMath.Format(x.Shape)} has an unknown non-batch dimension");
            rest *= d;
        }
        return Ops.Reshape(x, -1, rest);
    }
}
