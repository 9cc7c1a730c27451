using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>Matrix product of the last two axes, broadcasting the leading (batch) axes as NumPy's matmul does.</summary>
public sealed class MatMulOp : Operation
{
    public override string Name => "MatMul";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectSameDType(inputs[0], inputs[1]);
        ExpectFloat(inputs[0]);
        int[] a = inputs[0].Shape, b = inputs[1].Shape;
        if (a.Length < 2 || b.Length < 2)
            throw new ShapeMismatchException(Name, $"operands {ShapeMath.Format(a)} and {ShapeMath.Format(b)} must have rank ≥ 2 (Ops.MatMul lifts vectors)");
        if (a[^1] != b[^2] && a[^1] != -1 && b[^2] != -1)
            throw new ShapeMismatchException(Name, $"inner dimensions differ: {ShapeMath.Format(a)} · {ShapeMath.Format(b)} ({a[^1]} ≠ {b[^2]})");
        var batch = ShapeMath.TryBroadcast(a.AsSpan(0, a.Length - 2), b.AsSpan(0, b.Length - 2))
            ?? throw new ShapeMismatchException(Name, $"batch dimensions of {ShapeMath.Format(a)} and {ShapeMath.Format(b)} do not broadcast");
        return new TensorType(inputs[0].DType, [.. batch, a[^2], b[^1]]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        if (output.DType == DType.Float32) MatMulKernel.Run<float>(inputs[0], inputs[1], output);
        else MatMulKernel.Run<double>(inputs[0], inputs[1], output);
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        Node a = output.Inputs[0], b = output.Inputs[1];
        // When an operand is a transposed matrix (Linear's Wᵀ), its gradient is built as the transpose of the GEMM
        // for the untransposed matrix, (gy·bᵀ)ᵀ = b·gyᵀ and (aᵀ·gy)ᵀ = gyᵀ·a: the transpose's own gradient rule then
        // cancels the two transposes (PermuteOp.Gradient returns the product itself), so W's gradient is a contiguous GEMM output instead of
        // a strided view that a solver would have to copy every step.
        var ga = IsMatrixTranspose(a) ? Ops.Transpose(Ops.MatMul(b, Ops.Transpose(gy))) : Ops.MatMul(gy, Ops.Transpose(b));
        var gb = IsMatrixTranspose(b) ? Ops.Transpose(Ops.MatMul(Ops.Transpose(gy), a)) : Ops.MatMul(Ops.Transpose(a), gy);
        return [Ops.SumToShapeOf(ga, a), Ops.SumToShapeOf(gb, b)];
    }

    private static bool IsMatrixTranspose(Node n) =>
        n.Rank == 2 && n.Operation is PermuteOp p && ShapeMath.NormalizeAxis(p.Axes[0], 2, p.Name) == 1;
}
