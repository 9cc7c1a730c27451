using System.Numerics.Tensors;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Inference-only layer normalization over the last axis, y = (x − mean)·(1/√(var + ε))·scale + bias, inputs
/// (x, scale, bias), scale and bias vectors of x's last dimension. The ONNX importer spells LayerNormalization as ten
/// ops (ReduceMean, Sub, Square, ReduceMean, Add ε, Sqrt, Reciprocal, Mul, Mul, Add), each a pass over the tensor;
/// <see cref="InferenceFusion"/> builds this op from exactly that chain. Each row is normalized in one visit with the
/// same primitives in the same order (the mean is TensorPrimitives.Sum of the row times 1/n, as ReduceMean's), so the
/// result is bit for bit the unfused graph's. Float32 only; no gradient (training keeps the ops).
/// </summary>
public sealed class FusedLayerNormOp(float epsilon) : Operation
{
    public float Epsilon { get; } = epsilon;

    public override string Name => "LayerNorm";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        var x = inputs[0];
        if (x.DType != DType.Float32) throw new DTypeMismatchException(Name, $"expects float32, got {x.DType.Name()}");
        if (x.Shape.Length == 0) throw new ShapeMismatchException(Name, "x must have at least one axis");
        int n = x.Shape[^1];
        for (int i = 1; i < 3; i++)
        {
            ExpectSameDType(x, inputs[i]);
            if (inputs[i].Shape.Length != 1 || inputs[i].Shape[0] != n && n != -1 && inputs[i].Shape[0] != -1)
                throw new ShapeMismatchException(Name, $"scale and bias must be vectors of {n} values, got {ShapeMath.Format(inputs[i].Shape)}");
        }
        return x;
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        var scale = inputs[1].Contiguous();
        var bias = inputs[2].Contiguous();
        int n = x.Shape[^1];
        if (n == 0 || x.Length == 0) return;
        if (scale.Length != n || bias.Length != n)
            throw new ShapeMismatchException(Name, $"scale and bias must be vectors of {n} values, got {scale.ShapeString} and {bias.ShapeString}");
        var xs = x.Data<float>();
        var ys = output.Data<float>();
        var ss = scale.Data<float>();
        var bs = bias.Data<float>();
        int xo = x._offset, yo = output._offset, so = scale._offset, bo = bias._offset, rows = x.Length / n;
        float invN = 1f / n, eps = Epsilon;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = xs.AsSpan(xo + r * n, n);
            var d = ys.AsSpan(yo + r * n, n);   // holds x − mean, then the result
            var sq = (s_scratch is { } b && b.Length >= n ? b : s_scratch = new float[n]).AsSpan(0, n);
            float mean = TensorPrimitives.Sum(xr) * invN;
            TensorPrimitives.Subtract(xr, mean, d);
            TensorPrimitives.Multiply(d, d, sq);
            float variance = TensorPrimitives.Sum((ReadOnlySpan<float>)sq) * invN;
            float inv = 1f / MathF.Sqrt(variance + eps);
            TensorPrimitives.Multiply(d, inv, d);
            TensorPrimitives.Multiply(d, ss.AsSpan(so, n), d);
            TensorPrimitives.Add(d, bs.AsSpan(bo, n), d);
        }
    }

    [ThreadStatic] private static float[]? s_scratch;
}
