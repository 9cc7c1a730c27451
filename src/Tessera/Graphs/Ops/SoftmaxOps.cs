using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>Softmax (or log-softmax) along one axis.</summary>
public sealed class SoftmaxOp(int axis, bool log) : Operation
{
    public int Axis { get; } = axis;
    public bool Log { get; } = log;
    public override string Name => Log ? "LogSoftmax" : "Softmax";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        ShapeMath.NormalizeAxis(Axis, inputs[0].Rank, Name);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        int axis = ShapeMath.NormalizeAxis(Axis, inputs[0].Rank, Name);
        if (output.DType == DType.Float32) SoftmaxKernels.Softmax<float>(inputs[0], axis, Log, output);
        else SoftmaxKernels.Softmax<double>(inputs[0], axis, Log, output);
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        int[] axis = [Axis];
        if (Log) // d/dx: g - softmax(x) · Σ g
            return [Ops.Sub(gy, Ops.Mul(Ops.Exp(output), Ops.Sum(gy, axis, keepDims: true)))];
        // y ⊙ (g - Σ g ⊙ y)
        return [Ops.Mul(output, Ops.Sub(gy, Ops.Sum(Ops.Mul(gy, output), axis, keepDims: true)))];
    }
}
