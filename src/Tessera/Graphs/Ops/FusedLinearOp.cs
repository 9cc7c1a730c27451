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
/// </summary>
public sealed class FusedLinearOp(bool hasBias, ConvEpilogue activation, bool constantWeight = false) : Operation
{
    private readonly MatMulOp _matMul = new();
    private PackedGemmOperandB<float>? _packed;
    private Tensor? _packedFrom;
    private GemmKernelKind _packedKind;

    /// <summary>The weight input is a constant, so it may be packed once.</summary>
    public bool ConstantWeight { get; } = constantWeight;

    public bool HasBias { get; } = hasBias;

    /// <summary>The activation (its bias fields unused; the bias is an input).</summary>
    public ConvEpilogue Activation { get; } = activation;

    public override string Name => "MatMul" + Activation.NameSuffix(HasBias);

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, HasBias ? 3 : 2);
        if (inputs[1].Shape.Length != 2)
            throw new ShapeMismatchException(Name, $"the weight must be a matrix, got {ShapeMath.Format(inputs[1].Shape)}");
        var y = _matMul.InferType(inputs[..2]);
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
        if (!HasBias && Activation.Activation == ConvActivation.None) return;
        int n = output.Shape[^1];
        if (n == 0 || output.Length == 0) return;
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
            MatMulKernel.MatrixLayout(k, n, w._strides[0], w._strides[1], out bool tb, out int ldb, out bool ok);
            var wm = ok ? w : w.Contiguous();
            if (!ok) MatMulKernel.MatrixLayout(k, n, wm._strides[0], wm._strides[1], out tb, out ldb, out _);
            _packed = GemmKernel.PackB(tb, k, n, wm.Data<float>().AsSpan(wm._offset), ldb);
            _packedFrom = w;
            _packedKind = GemmKernel.ActiveKernel;
        }
        GemmKernel.SgemmPackedB(false, rows, 1f, x.Data<float>().AsSpan(x._offset, x.Length), k, _packed, 0f,
            y.Data<float>().AsSpan(y._offset, y.Length), n);
        return true;
    }
}
