using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

public sealed class AddOp : BinaryOp
{
    public override string Name => "Add";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, AddFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy) =>
        [Ops.SumToShapeOf(gy, output.Inputs[0]), Ops.SumToShapeOf(gy, output.Inputs[1])];
}

public sealed class SubOp : BinaryOp
{
    public override string Name => "Sub";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, SubFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy) =>
        [Ops.SumToShapeOf(gy, output.Inputs[0]), Ops.SumToShapeOf(Ops.Neg(gy), output.Inputs[1])];
}

public sealed class MulOp : BinaryOp
{
    public override string Name => "Mul";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, MulFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy)
    {
        Node a = output.Inputs[0], b = output.Inputs[1];
        return [Ops.SumToShapeOf(Ops.Mul(gy, b), a), Ops.SumToShapeOf(Ops.Mul(gy, a), b)];
    }
}

public sealed class DivOp : BinaryOp
{
    public override string Name => "Div";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, DivFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy)
    {
        Node a = output.Inputs[0], b = output.Inputs[1];
        // d(a/b)/db = -a/b² = -(a/b)/b
        return [Ops.SumToShapeOf(Ops.Div(gy, b), a), Ops.SumToShapeOf(Ops.Neg(Ops.Div(Ops.Mul(gy, output), b)), b)];
    }
}

public sealed class PowOp : BinaryOp
{
    public override string Name => "Pow";
    protected override bool FloatOnly => true;
    protected override void RunFloat<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, PowFn<T>>(a, b, y);
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => throw new System.Diagnostics.UnreachableException();
    public override Node?[] Gradient(Node output, Node gy)
    {
        Node a = output.Inputs[0], b = output.Inputs[1];
        var da = Ops.Mul(gy, Ops.Mul(b, Ops.Pow(a, Ops.Sub(b, a.Graph.Constant(1, b.DType)))));
        var db = Ops.Mul(gy, Ops.Mul(output, Ops.Log(a)));
        return [Ops.SumToShapeOf(da, a), Ops.SumToShapeOf(db, b)];
    }
}

/// <summary>Elementwise maximum; the gradient goes to a where a ≥ b, else to b (as PyTorch splits ties: half each).</summary>
public sealed class MaximumOp : BinaryOp
{
    public override string Name => "Maximum";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, MaxFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy) => MinMaxGradient(output, gy);

    internal static Node?[] MinMaxGradient(Node output, Node gy)
    {
        Node a = output.Inputs[0], b = output.Inputs[1];
        // PyTorch gives each side half the gradient on exact ties.
        var ga = Ops.Where(Ops.Equal(a, b), Ops.Mul(gy, gy.Graph.Constant(0.5, gy.DType)), Ops.Where(Ops.Equal(a, output), gy, Ops.ZerosLike(gy)));
        var gb = Ops.Sub(gy, ga);
        return [Ops.SumToShapeOf(ga, a), Ops.SumToShapeOf(gb, b)];
    }
}

public sealed class MinimumOp : BinaryOp
{
    public override string Name => "Minimum";
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => ElementwiseKernels.Binary<T, MinFn<T>>(a, b, y);
    public override Node?[] Gradient(Node output, Node gy) => MaximumOp.MinMaxGradient(output, gy);
}
