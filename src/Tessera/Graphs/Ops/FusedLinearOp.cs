using System.Numerics;
using System.Numerics.Tensors;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Inference-only matrix product with its consumers folded in: y = act(x · w + bias), inputs (x, w, [bias]), w a
/// matrix (no batch axes), bias a vector of w's column count. <see cref="InferenceFusion"/> builds it from MatMul
/// followed by Add of a per-column constant (ONNX Gemm's bias, a Linear layer) and Relu or Clip: one step and one
/// output buffer instead of three, the bias and activation applied to each output row right after the product.
/// The product is <see cref="MatMulKernel"/>'s and the epilogue uses the primitives of the separate Add, Relu and
/// Clip ops in their order, so the result is bit-for-bit the unfused graph's. No gradient: training keeps the ops.
/// With <paramref name="constantWeight"/> (w a graph constant) a float32 w is packed into the GEMM's panel layout on
/// the first run and reused (<see cref="PackedGemmOperandB{T}"/>; the same panels the GEMM would pack per call, so
/// the product is bit-identical).
/// With <paramref name="gelu"/> the epilogue ends in <see cref="FusedGeluOp"/>'s GELU (float32, n a multiple of 8 so
/// each row's values take the same erf path as one Erf over the whole tensor: exact), rows split over the threads.
/// </summary>
public sealed class FusedLinearOp(bool hasBias, ConvEpilogue activation, bool constantWeight = false, bool gelu = false) : Operation
{
    private readonly MatMulOp _matMul = new();
    private PackedGemmOperandB<float>? _packed;

    /// <summary>
    /// Packings by the constant weight they were made from: a model's pooled instances and per-shape plans share the
    /// initializer tensors, so they share one packing (a transformer's packed weights are as large as the model).
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, SharedPack> SharedPacks = new();

    private sealed record SharedPack(GemmKernelKind Kind, PackedGemmOperandB<float> Packed);

    /// <summary>The packed weight in use (null before the first packed run); for tests.</summary>
    internal object? PackedWeight => _packed;
    private Tensor? _packedFrom;
    private GemmKernelKind _packedKind;

    /// <summary>The weight input is a constant, so it may be packed once.</summary>
    public bool ConstantWeight { get; } = constantWeight;

    public bool HasBias { get; } = hasBias;

    /// <summary>The activation (its bias fields unused; the bias is an input).</summary>
    public ConvEpilogue Activation { get; } = activation;

    /// <summary>The output goes through GELU after the bias (no other activation then).</summary>
    public bool Gelu { get; } = gelu;

    public override string Name => "MatMul" + Activation.NameSuffix(HasBias) + (Gelu ? "+Gelu" : "");

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, HasBias ? 3 : 2);
        if (inputs[1].Shape.Length != 2)
            throw new ShapeMismatchException(Name, $"the weight must be a matrix, got {ShapeMath.Format(inputs[1].Shape)}");
        var y = _matMul.InferType(inputs[..2]);
        if (Gelu && (y.DType != DType.Float32 || Activation.Activation != ConvActivation.None))
            throw new ShapeMismatchException(Name, "GELU is fused for float32 products without another activation only");
        if (HasBias)
        {
            ExpectSameDType(inputs[0], inputs[2]);
            int n = inputs[1].Shape[1];
            if (inputs[2].Shape.Length != 1 || inputs[2].Shape[0] != n && n != -1)
                throw new ShapeMismatchException(Name, $"the bias must be a vector of {n} values, got {ShapeMath.Format(inputs[2].Shape)}");
        }
        return y;
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        if (output.DType == DType.Float32) Run<float>(inputs, output);
        else Run<double>(inputs, output);
    }

    private unsafe void Run<T>(ReadOnlySpan<Tensor> inputs, Tensor output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || !RunPacked(inputs[0], inputs[1], output))
            MatMulKernel.Run<T>(inputs[0], inputs[1], output);
        if (!HasBias && Activation.Activation == ConvActivation.None && !Gelu) return;
        int n = output.Shape[^1];
        if (n == 0 || output.Length == 0) return;
        if (Gelu) { BiasGelu(inputs, output, n); return; }
        var y = output.AsSpan<T>();   // the machine's own buffer: contiguous
        ReadOnlySpan<T> bias = HasBias ? inputs[2].Contiguous().AsSpan<T>() : default;
        fixed (T* py = y)
        {
            for (int r = 0; r < y.Length / n; r++)
            {
                var row = y.Slice(r * n, n);
                if (HasBias) TensorPrimitives.Add(row, bias, row);
                Activation.Apply(py + (long)r * n, n, false, T.Zero, null);
            }
        }
    }

    /// <summary>y = GELU(y + bias) row by row, the rows split over the kernel threads when there are many values.</summary>
    private void BiasGelu(ReadOnlySpan<Tensor> inputs, Tensor output, int n)
    {
        var ys = output.Data<float>();
        int yo = output._offset, rows = output.Length / n;
        var bias = HasBias ? inputs[2].Contiguous() : null;
        var bs = bias?.Data<float>();
        int bo = bias?._offset ?? 0;
        const int rowsPerTask = 8;
        int tasks = (rows + rowsPerTask - 1) / rowsPerTask;
        KernelThreads.For(tasks, output.Length >= 1 << 16 ? GemmKernel.MaxThreads : 1, t =>
        {
            for (int r = t * rowsPerTask; r < Math.Min(rows, (t + 1) * rowsPerTask); r++)
            {
                var row = ys.AsSpan(yo + r * n, n);
                if (bs is not null) TensorPrimitives.Add(row, bs.AsSpan(bo, n), row);
                FusedGeluOp.Apply(row, row);
            }
        });
    }

    /// <summary>
    /// x · w through the pre-packed weight when that is the path <see cref="MatMulKernel"/> would take anyway (a
    /// contiguous x folded into one packed GEMM); false otherwise.
    /// </summary>
    private bool RunPacked(Tensor x, Tensor w, Tensor y)
    {
        int k = w.Shape[0], n = w.Shape[1];
        if (!ConstantWeight || !x.IsContiguous || k == 0 || n == 0 || y.Length == 0) return false;
        int rows = x.Length / k;
        // Small products take GEMM's unpacked direct path (different summation), a few rows the GEMV path.
        if (rows <= GemvKernel.MaxRows || (long)rows * n * k < GemmKernel.SmallThreshold) return false;
        if (_packed is null || !ReferenceEquals(_packedFrom, w) || _packedKind != GemmKernel.ActiveKernel)
        {
            if (!SharedPacks.TryGetValue(w, out var shared) || shared.Kind != GemmKernel.ActiveKernel)
            {
                MatMulKernel.MatrixLayout(k, n, w._strides[0], w._strides[1], out bool tb, out int ldb, out bool ok);
                var wm = ok ? w : w.Contiguous();
                if (!ok) MatMulKernel.MatrixLayout(k, n, wm._strides[0], wm._strides[1], out tb, out ldb, out _);
                shared = new SharedPack(GemmKernel.ActiveKernel, GemmKernel.PackB(tb, k, n, wm.Data<float>().AsSpan(wm._offset), ldb));
                SharedPacks.AddOrUpdate(w, shared);
            }
            _packed = shared.Packed;
            _packedFrom = w;
            _packedKind = shared.Kind;
        }
        GemmKernel.SgemmPackedB(false, rows, 1f, x.Data<float>().AsSpan(x._offset, x.Length), k, _packed, 0f,
            y.Data<float>().AsSpan(y._offset, y.Length), n);
        return true;
    }
}
