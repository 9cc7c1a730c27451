namespace Tessera.Graphs;

/// <summary>The elementwise functions of <see cref="MathOp"/>.</summary>
public enum MathFunction
{
    Floor, Ceil, Round, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh,
    Elu, Selu, Celu, HardSigmoid, HardSwish, Softsign, ThresholdedRelu, Shrink, Mish,
}

/// <summary>
/// Elementwise float functions without a vectorized kernel (rounding, inverse trigonometry, the ONNX activation
/// zoo). Each is one scalar formula in double; <see cref="Alpha"/>, <see cref="Beta"/>, <see cref="Gamma"/> are the
/// ONNX attributes (Elu alpha, Selu alpha/gamma, HardSigmoid alpha/beta, Shrink lambd/bias ...).
/// </summary>
public sealed class MathOp(MathFunction function, double alpha = 0, double beta = 0, double gamma = 0) : FloatUnaryOp
{
    public MathFunction Function { get; } = function;
    public double Alpha { get; } = alpha;
    public double Beta { get; } = beta;
    public double Gamma { get; } = gamma;
    public override string Name => Function.ToString();

    public double Apply(double x) => Function switch
    {
        MathFunction.Floor => Math.Floor(x),
        MathFunction.Ceil => Math.Ceiling(x),
        MathFunction.Round => Math.Round(x, MidpointRounding.ToEven),
        MathFunction.Tan => Math.Tan(x),
        MathFunction.Asin => Math.Asin(x),
        MathFunction.Acos => Math.Acos(x),
        MathFunction.Atan => Math.Atan(x),
        MathFunction.Sinh => Math.Sinh(x),
        MathFunction.Cosh => Math.Cosh(x),
        MathFunction.Asinh => Math.Asinh(x),
        MathFunction.Acosh => Math.Acosh(x),
        MathFunction.Atanh => Math.Atanh(x),
        MathFunction.Elu => x >= 0 ? x : Alpha * (Math.Exp(x) - 1),
        MathFunction.Selu => x > 0 ? Gamma * x : Gamma * Alpha * (Math.Exp(x) - 1),
        MathFunction.Celu => Math.Max(0, x) + Math.Min(0, Alpha * (Math.Exp(x / Alpha) - 1)),
        MathFunction.HardSigmoid => Math.Clamp(Alpha * x + Beta, 0, 1),
        MathFunction.HardSwish => x * Math.Clamp(x / 6 + 0.5, 0, 1),
        MathFunction.Softsign => x / (1 + Math.Abs(x)),
        MathFunction.ThresholdedRelu => x > Alpha ? x : 0,
        MathFunction.Shrink => x < -Alpha ? x + Beta : x > Alpha ? x - Beta : 0,
        MathFunction.Mish => x * Math.Tanh(Math.Log(1 + Math.Exp(x))),
        _ => throw new ArgumentOutOfRangeException(nameof(x)),
    };

    protected override void Run<T>(Tensor x, Tensor y)
    {
        var xs = x.Contiguous().AsSpan<T>();
        var ys = y.AsSpan<T>();
        for (int i = 0; i < xs.Length; i++) ys[i] = T.CreateTruncating(Apply(double.CreateTruncating(xs[i])));
    }

    public override Node?[] Gradient(Node output, Node gy) => Function switch
    {
        MathFunction.Floor or MathFunction.Ceil or MathFunction.Round => [null],
        _ => throw new NotSupportedException($"{Name} has no gradient rule."),
    };
}

/// <summary>The logical functions of <see cref="LogicOp"/>.</summary>
public enum LogicFunction { And, Or, Xor }

/// <summary>Elementwise logic on bool tensors with broadcasting.</summary>
public sealed class LogicOp(LogicFunction function) : Operation
{
    public LogicFunction Function { get; } = function;
    public override string Name => Function.ToString();

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[0].DType != DType.Bool || inputs[1].DType != DType.Bool)
            throw new DTypeMismatchException(Name, $"inputs have dtypes {inputs[0].DType.Name()} and {inputs[1].DType.Name()}, expected bool");
        return new TensorType(DType.Bool, ShapeMath.Broadcast(inputs[0].Shape, inputs[1].Shape, Name));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var shape = output.ShapeArray();
        var a = inputs[0].Expand(shape).Contiguous().AsSpan<bool>();
        var b = inputs[1].Expand(shape).Contiguous().AsSpan<bool>();
        var y = output.AsSpan<bool>();
        for (int i = 0; i < y.Length; i++)
            y[i] = Function switch { LogicFunction.And => a[i] & b[i], LogicFunction.Or => a[i] | b[i], _ => a[i] ^ b[i] };
    }

    public override Node?[] Gradient(Node output, Node gy) => [null, null];
}

/// <summary>Which test <see cref="ElementTestOp"/> makes.</summary>
public enum ElementTest { Not, IsNaN, IsPositiveInfinity, IsNegativeInfinity, IsInfinity }

/// <summary>Bool-valued elementwise tests: logical not of a bool tensor, NaN and infinity tests of floats.</summary>
public sealed class ElementTestOp(ElementTest test) : Operation
{
    public ElementTest Test { get; } = test;
    public override string Name => Test.ToString();

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (Test == ElementTest.Not && inputs[0].DType != DType.Bool)
            throw new DTypeMismatchException(Name, $"input has dtype {inputs[0].DType.Name()}, expected bool");
        if (Test != ElementTest.Not && !inputs[0].DType.IsFloatingPoint())
            throw new DTypeMismatchException(Name, $"input has dtype {inputs[0].DType.Name()}, expected a float type");
        return new TensorType(DType.Bool, inputs[0].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0];
        var y = output.AsSpan<bool>();
        for (int i = 0; i < y.Length; i++)
        {
            double v = x.GetDouble(i);
            y[i] = Test switch
            {
                ElementTest.Not => v == 0,
                ElementTest.IsNaN => double.IsNaN(v),
                ElementTest.IsPositiveInfinity => double.IsPositiveInfinity(v),
                ElementTest.IsNegativeInfinity => double.IsNegativeInfinity(v),
                _ => double.IsInfinity(v),
            };
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>
/// Remainder with broadcasting. <see cref="Fmod"/> false: the sign follows the divisor (Python %, integers only in
/// ONNX); true: the sign follows the dividend (C fmod).
/// </summary>
public sealed class ModOp(bool fmod) : BinaryOp
{
    public bool Fmod { get; } = fmod;
    public override string Name => "Mod";

    protected override void Run<T>(Tensor a, Tensor b, Tensor y)
    {
        var shape = y.ShapeArray();
        var aa = a.Expand(shape).Contiguous().AsSpan<T>();
        var bb = b.Expand(shape).Contiguous().AsSpan<T>();
        var ys = y.AsSpan<T>();
        for (int i = 0; i < ys.Length; i++)
        {
            T r = aa[i] % bb[i];
            if (!Fmod && r != T.Zero && (T.IsNegative(r) != T.IsNegative(bb[i]))) r += bb[i];
            ys[i] = r;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Mod has no gradient rule.");
}

/// <summary>Clamps x into [min, max] (either bound may be absent: ±∞ or the integer limits).</summary>
public sealed class ClipOp(double? min, double? max) : Operation
{
    public double? Min { get; } = min;
    public double? Max { get; } = max;
    public override string Name => "Clip";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0].Contiguous();
        switch (x.DType)
        {
            case DType.Float32:
            {
                var xs = x.AsSpan<float>(); var ys = output.AsSpan<float>();
                float lo = Min is double a ? (float)a : float.NegativeInfinity, hi = Max is double b ? (float)b : float.PositiveInfinity;
                System.Numerics.Tensors.TensorPrimitives.Max(xs, lo, ys);
                System.Numerics.Tensors.TensorPrimitives.Min(ys, hi, ys);
                break;
            }
            default:
                for (int i = 0; i < output.Length; i++)
                {
                    double v = x.GetDouble(i);
                    if (Min is double a && v < a) v = a;
                    if (Max is double b && v > b) v = b;
                    output.SetDouble(i, v);
                }
                break;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Clip has no gradient rule.");
}
