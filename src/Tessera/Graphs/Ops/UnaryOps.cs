using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

public sealed class NegOp : NumericUnaryOp
{
    public override string Name => "Neg";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, NegFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Neg(gy)];
}

public sealed class AbsOp : NumericUnaryOp
{
    public override string Name => "Abs";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, AbsFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, Ops.Sign(output.Inputs[0]))];
}

public sealed class SquareOp : NumericUnaryOp
{
    public override string Name => "Square";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SquareFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, output.Inputs[0] * 2.0)];
}

public sealed class ExpOp : FloatUnaryOp
{
    public override string Name => "Exp";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, ExpFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, output)];
}

public sealed class LogOp : FloatUnaryOp
{
    public override string Name => "Log";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, LogFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Div(gy, output.Inputs[0])];
}

public sealed class SqrtOp : FloatUnaryOp
{
    public override string Name => "Sqrt";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SqrtFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Div(gy, output * 2.0)];
}

public sealed class ReciprocalOp : FloatUnaryOp
{
    public override string Name => "Reciprocal";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, ReciprocalFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Neg(Ops.Mul(gy, Ops.Square(output)))];
}

public sealed class TanhOp : FloatUnaryOp
{
    public override string Name => "Tanh";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, TanhFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, 1.0 - Ops.Square(output))];
}

public sealed class SigmoidOp : FloatUnaryOp
{
    public override string Name => "Sigmoid";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SigmoidFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, Ops.Mul(output, 1.0 - output))];
}

public sealed class ReluOp : FloatUnaryOp
{
    public override string Name => "Relu";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, ReluFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy)
    {
        // ReLU feeding a max pool (the CNN block): the pool's gradient routing masked by the ReLU output, one sweep
        // over the activation instead of a routing pass and a masking pass.
        if (gy.Operation is Pool2dGradOp { Pool.IsMax: true, ReluMask: false } pool && gy.Inputs[1] == output)
            return [gy.Graph.Apply(new Pool2dGradOp(pool.Pool, reluMask: true), gy.Inputs[0], output)];
        return [Ops.ReluGrad(gy, output.Inputs[0])];
    }
}

/// <summary>
/// ReLU's backward pass fused into one op: inputs (gy, x), output gy where x &gt; 0 else 0. Replaces gy·Step(x),
/// which took two sweeps and a temporary the size of the activation.
/// </summary>
public sealed class ReluGradOp : BinaryOp
{
    public override string Name => "ReluGrad";
    protected override bool FloatOnly => true;
    protected override void Run<T>(Tensor a, Tensor b, Tensor y) => throw new System.Diagnostics.UnreachableException();
    protected override void RunFloat<T>(Tensor gy, Tensor x, Tensor y) => ElementwiseKernels.Binary<T, ReluGradFn<T>>(gy, x, y);

    // Linear in gy with the same mask; piecewise constant in x, so no gradient flows to x.
    public override Node?[] Gradient(Node output, Node gg) =>
        [Ops.SumToShapeOf(Ops.ReluGrad(gg, output.Inputs[1]), output.Inputs[0]), null];
}

public sealed class SinOp : FloatUnaryOp
{
    public override string Name => "Sin";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SinFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, Ops.Cos(output.Inputs[0]))];
}

public sealed class CosOp : FloatUnaryOp
{
    public override string Name => "Cos";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, CosFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Neg(Ops.Mul(gy, Ops.Sin(output.Inputs[0])))];
}

public sealed class SoftplusOp : FloatUnaryOp
{
    public override string Name => "Softplus";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SoftplusFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.Mul(gy, Ops.Sigmoid(output.Inputs[0]))];
}

public sealed class ErfOp : FloatUnaryOp
{
    public override string Name => "Erf";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, ErfFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        return [Ops.Mul(gy, Ops.Exp(Ops.Neg(Ops.Square(x))) * (2 / Math.Sqrt(Math.PI)))];
    }
}

/// <summary>Sign of x (−1, 0, +1); its derivative is zero almost everywhere, so no gradient flows.</summary>
public sealed class SignOp : FloatUnaryOp
{
    public override string Name => "Sign";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, SignFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>1 where x &gt; 0 else 0 (ReLU's derivative); no gradient flows through it.</summary>
public sealed class StepOp : FloatUnaryOp
{
    public override string Name => "Step";
    protected override void Run<T>(Tensor x, Tensor y) => ElementwiseKernels.Unary<T, StepFn<T>>(x, y);
    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>x for x &gt; 0, alpha·x otherwise.</summary>
public sealed class LeakyReluOp(double alpha) : FloatUnaryOp
{
    public double Alpha { get; } = alpha;
    public override string Name => "LeakyRelu";

    protected override void Run<T>(Tensor x, Tensor y)
    {
        var src = x.Contiguous();
        var xs = src.AsSpan<T>();
        var ys = y.AsSpan<T>();
        T a = T.CreateTruncating(Alpha);
        for (int i = 0; i < xs.Length; i++) ys[i] = xs[i] > T.Zero ? xs[i] : a * xs[i];
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        // slope = alpha + (1 - alpha)·step(x)
        var slope = Ops.Step(x) * (1 - Alpha) + Alpha;
        return [Ops.Mul(gy, slope)];
    }
}
