using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Inference-only convolution with its consumers folded in: y = act(conv(x, w) + bias + residual), inputs
/// (x, w, [bias], [residual]). <see cref="InferenceFusion"/> builds it from Conv2d followed by Add (a residual
/// branch), Relu or Clip; the kernel applies the epilogue to each output block while it is in cache instead of
/// sweeping the whole tensor once per op. It has no gradient rule: training graphs keep the separate ops.
/// </summary>
public sealed class FusedConv2dOp(Window2d window, bool hasBias, bool hasResidual, ConvEpilogue epilogue,
    bool constantWeights = false) : Operation
{
    /// <summary>The GEMM-packed weights and the tensor they were packed from (published whole, so reads are race-free).</summary>
    private sealed record PackedWeights(Tensor Source, int Groups, object? Operands);

    /// <summary>
    /// Packings by the constant weight tensor they were made from: a model's pooled instances and its per-shape plans
    /// share the initializer tensors, so they share one packing instead of holding a copy each.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, PackedWeights> SharedPacks = new();

    private PackedWeights? _packed;

    /// <summary>The packed weights in use (null before the first run or without constant weights); for tests.</summary>
    internal object? PackedOperands => _packed?.Operands;

    /// <summary>
    /// The weight input is a graph constant: its GEMM packing is computed on the first run and reused (inference
    /// graphs only; a different weight tensor repacks).
    /// </summary>
    public bool ConstantWeights { get; } = constantWeights;

    private readonly Conv2dOp _conv = new(window);

    public Window2d Window { get; } = window;
    public bool HasBias { get; } = hasBias;
    public bool HasResidual { get; } = hasResidual;
    public ConvEpilogue Epilogue { get; } = epilogue;

    public override string Name => "Conv2d" + Epilogue.NameSuffix(HasResidual);

    private int ConvInputs => HasBias ? 3 : 2;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, ConvInputs + (HasResidual ? 1 : 0));
        var conv = _conv.InferType(inputs[..ConvInputs]);
        if (!HasResidual) return conv;
        ExpectSameDType(conv, inputs[ConvInputs]);
        return new TensorType(conv.DType, ShapeMath.Broadcast(conv.Shape, inputs[ConvInputs].Shape, Name));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var w = inputs[1].Contiguous();
        var geo = Window.Geometry(x.Shape, w.Shape[0], w.Shape[2], w.Shape[3]);
        Tensor? bias = HasBias ? inputs[2].Contiguous() : null;
        Tensor? residual = HasResidual ? inputs[ConvInputs] : null;
        var y = output.Shape;
        bool convShaped = y[0] == geo.N && y[1] == geo.K && y[2] == geo.OutH && y[3] == geo.OutW;
        if (!convShaped || residual is not null && !residual.Shape.SequenceEqual(y))
        {
            ForwardBroadcasting(inputs, output);
            return;
        }
        residual = residual?.Contiguous();
        if (output.DType == DType.Float32) Run<float>(geo, x, w, bias, residual, output);
        else Run<double>(geo, x, w, bias, residual, output);
    }

    private void Run<T>(in Conv2dGeometry geo, Tensor x, Tensor w, Tensor? bias, Tensor? residual, Tensor y)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Conv2dKernel.Forward<T>(geo, x.AsSpan<T>(), w.AsSpan<T>(), bias is null ? default : bias.AsSpan<T>(),
            residual is null ? default : residual.AsSpan<T>(), Epilogue, y.AsSpan<T>(), PackedFor<T>(geo, w));

    private PackedGemmOperand<T>[]? PackedFor<T>(in Conv2dGeometry geo, Tensor w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ConstantWeights) return null;
        var cached = _packed;
        if (cached is null || !ReferenceEquals(cached.Source, w))
        {
            // Another op reading the same tensor with other groups or another dtype (not seen in models) re-packs.
            if (!SharedPacks.TryGetValue(w, out cached) || cached.Groups != geo.Groups || cached.Operands is not (null or PackedGemmOperand<T>[]))
            {
                cached = new PackedWeights(w, geo.Groups, Conv2dKernel.PackWeights<T>(geo, w.AsSpan<T>()));
                SharedPacks.AddOrUpdate(w, cached);
            }
            _packed = cached;
        }
        return cached.Operands as PackedGemmOperand<T>[];
    }

    /// <summary>
    /// A residual whose run-time shape differs from the convolution's (the fusion saw equal build-time shapes,
    /// but a dynamic dimension may still broadcast): the unfused sequence, conv, broadcasting Add, activation.
    /// </summary>
    private void ForwardBroadcasting(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var types = new TensorType[ConvInputs];
        for (int i = 0; i < types.Length; i++) types[i] = new TensorType(inputs[i].DType, inputs[i].ShapeArray());
        using var conv = Tensor.Empty(output.DType, _conv.InferType(types).Shape);
        _conv.Forward(inputs[..ConvInputs], conv);
        new AddOp().Forward([conv, inputs[ConvInputs]], output);
        switch (Epilogue.Activation)
        {
            case ConvActivation.Relu: new ReluOp().Forward([output], output); break;
            case ConvActivation.Clip: new ClipOp(Epilogue.ClipMin, Epilogue.ClipMax).Forward([output], output); break;
        }
    }
}
