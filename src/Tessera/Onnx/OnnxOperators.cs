using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

/// <summary>Builds the graph nodes for one ONNX node; returns one node per ONNX output.</summary>
public delegate Node[] OnnxOpBuilder(OnnxNodeContext ctx);

/// <summary>
/// The ONNX operator table: each default-domain operator maps to registry ops (see <c>Graphs/Ops</c>). Opset
/// differences (attributes that became inputs, changed defaults) are resolved here, so the ops stay opset-free.
/// </summary>
public static partial class OnnxOperators
{
    public static IReadOnlyDictionary<string, OnnxOpBuilder> Builders { get; } = CreateTable();

    private static Dictionary<string, OnnxOpBuilder> CreateTable()
    {
        var t = new Dictionary<string, OnnxOpBuilder>();
        AddElementwise(t);
        AddShape(t);
        AddNeural(t);
        AddLosses(t);
        AddResize(t);
        AddMisc(t);
        AddRecurrent(t);
        AddQuantized(t);
        AddTraining(t);
        AddSignal(t);
        AddControl(t);
        AddSequences(t);
        AddGrid(t);
        return t;
    }

    private static Node[] One(Node n) => [n];

    /// <summary>ONNX element type attribute → Tessera dtype.</summary>
    internal static DType DTypeAttr(OnnxNodeContext c, string name, DType fallback)
    {
        if (!c.Has(name)) return fallback;
        try { return OnnxTensors.ToDType((int)c.Int(name, 0), $"attribute '{name}'"); }
        catch (OnnxUnsupportedException e) { throw c.Unsupported(e.Message); }   // say which op and opset asked for it
    }

    private static void AddElementwise(Dictionary<string, OnnxOpBuilder> t)
    {
        t["Add"] = c => One(Add(c.Required(0), c.Required(1)));
        t["Sub"] = c => One(Sub(c.Required(0), c.Required(1)));
        t["Mul"] = c => One(Mul(c.Required(0), c.Required(1)));
        t["Div"] = c => One(Div(c.Required(0), c.Required(1)));
        t["Pow"] = c =>
        {
            Node a = c.Required(0), b = c.Required(1);
            if (a.DType is DType.Float32 or DType.Float64) return One(Pow(a, Cast(b, a.DType)));
            return One(Cast(Pow(Cast(a, DType.Float64), Cast(b, DType.Float64)), a.DType));
        };
        t["Mod"] = c => One(c.Graph.Apply(new ModOp(c.Int("fmod", 0) != 0), c.Required(0), c.Required(1)));
        t["PRelu"] = c =>
        {
            Node x = c.Required(0), slope = c.Required(1);
            // Before opset 7 a 1-D slope is per channel (axis 1), not NumPy-broadcast from the right.
            if (c.Opset < 7 && slope.Rank == 1 && x.Rank > 2) slope = Unsqueeze(slope, [.. Enumerable.Range(1, x.Rank - 2)]);
            return One(Where(Less(x, ZerosLike(x)), Mul(x, slope), x));
        };

        t["Neg"] = c => One(Neg(c.Required(0)));
        t["Abs"] = c => One(Abs(c.Required(0)));
        t["Exp"] = c => One(Exp(c.Required(0)));
        t["Log"] = c => One(Log(c.Required(0)));
        t["Sqrt"] = c => One(Sqrt(c.Required(0)));
        t["Reciprocal"] = c => One(Reciprocal(c.Required(0)));
        t["Tanh"] = c => One(Tanh(c.Required(0)));
        t["Sigmoid"] = c => One(Sigmoid(c.Required(0)));
        t["Relu"] = c => One(Relu(c.Required(0)));
        t["Sin"] = c => One(Sin(c.Required(0)));
        t["Cos"] = c => One(Cos(c.Required(0)));
        t["Softplus"] = c => One(Softplus(c.Required(0)));
        t["Erf"] = c => One(Erf(c.Required(0)));
        t["Gelu"] = c => c.String("approximate", "none") switch   // opset 20
        {
            "none" => One(Gelu(c.Required(0))),
            "tanh" => One(GeluTanh(c, c.Required(0))),
            var a => throw c.Unsupported($"approximate '{a}'"),
        };
        t["Sign"] = c =>
        {
            var x = c.Required(0);
            return One(x.DType.IsFloatingPoint() ? Sign(x) : Cast(Sign(Cast(x, DType.Float64)), x.DType));
        };
        t["LeakyRelu"] = c => One(LeakyRelu(c.Required(0), c.Float("alpha", 0.01f)));
        foreach (var f in new[] { MathFunction.Floor, MathFunction.Ceil, MathFunction.Round, MathFunction.Tan, MathFunction.Asin, MathFunction.Acos,
                     MathFunction.Atan, MathFunction.Sinh, MathFunction.Cosh, MathFunction.Asinh, MathFunction.Acosh, MathFunction.Atanh,
                     MathFunction.HardSwish, MathFunction.Softsign, MathFunction.Mish })
            t[f.ToString()] = c => One(c.Graph.Apply(new MathOp(f), c.Required(0)));
        t["Elu"] = c => One(c.Graph.Apply(new MathOp(MathFunction.Elu, c.Float("alpha", 1f)), c.Required(0)));
        t["Celu"] = c => One(c.Graph.Apply(new MathOp(MathFunction.Celu, c.Float("alpha", 1f)), c.Required(0)));
        t["Selu"] = c => One(c.Graph.Apply(new MathOp(MathFunction.Selu, c.Float("alpha", 1.67326319217681884765625f), 0, c.Float("gamma", 1.05070102214813232421875f)), c.Required(0)));
        t["HardSigmoid"] = c => One(c.Graph.Apply(new MathOp(MathFunction.HardSigmoid, c.Float("alpha", 0.2f), c.Float("beta", 0.5f)), c.Required(0)));
        t["ThresholdedRelu"] = c => One(c.Graph.Apply(new MathOp(MathFunction.ThresholdedRelu, c.Float("alpha", 1f)), c.Required(0)));
        t["Shrink"] = c =>
        {
            var x = c.Required(0);
            var op = new MathOp(MathFunction.Shrink, c.Float("lambd", 0.5f), c.Float("bias", 0f));
            return One(x.DType.IsFloatingPoint() ? c.Graph.Apply(op, x) : Cast(c.Graph.Apply(op, Cast(x, DType.Float64)), x.DType));
        };

        t["Not"] = c => One(c.Graph.Apply(new ElementTestOp(ElementTest.Not), c.Required(0)));
        t["IsNaN"] = c => One(c.Graph.Apply(new ElementTestOp(ElementTest.IsNaN), c.Required(0)));
        t["IsInf"] = c =>
        {
            bool pos = c.Int("detect_positive", 1) != 0, neg = c.Int("detect_negative", 1) != 0;
            var test = pos && neg ? ElementTest.IsInfinity : pos ? ElementTest.IsPositiveInfinity : ElementTest.IsNegativeInfinity;
            if (!pos && !neg) return One(Cast(ZerosLike(c.Required(0)), DType.Bool));
            return One(c.Graph.Apply(new ElementTestOp(test), c.Required(0)));
        };
        t["And"] = c => One(c.Graph.Apply(new LogicOp(LogicFunction.And), c.Required(0), c.Required(1)));
        t["Or"] = c => One(c.Graph.Apply(new LogicOp(LogicFunction.Or), c.Required(0), c.Required(1)));
        t["Xor"] = c => One(c.Graph.Apply(new LogicOp(LogicFunction.Xor), c.Required(0), c.Required(1)));

        t["Equal"] = c => One(Compare(c, Ops.Equal));
        t["Greater"] = c => One(Compare(c, Ops.Greater));
        t["Less"] = c => One(Compare(c, Ops.Less));
        t["GreaterOrEqual"] = c => One(Compare(c, Ops.GreaterEqual));
        t["LessOrEqual"] = c => One(Compare(c, Ops.LessEqual));
        t["Where"] = c => One(Where(c.Required(0), c.Required(1), c.Required(2)));

        t["Max"] = c => One(Variadic(c, Maximum));
        t["Min"] = c => One(Variadic(c, Minimum));
        t["Sum"] = c => One(Variadic(c, Add));
        t["Mean"] = c =>
        {
            var s = Variadic(c, Add);
            return One(Div(s, c.Graph.Constant(c.InputCount, s.DType)));
        };

        t["Clip"] = c =>
        {
            var x = c.Required(0);
            if (c.Opset < 11)
                return One(c.Graph.Apply(new ClipOp(c.Has("min") ? c.Float("min", 0) : null, c.Has("max") ? c.Float("max", 0) : null), x));
            Node? lo = c.Input(1), hi = c.Input(2);
            var ps = new List<Node>();
            if (lo is not null) ps.Add(lo);
            if (hi is not null) ps.Add(hi);
            return One(c.Bind("Clip", [x], [.. ps], v =>
            {
                int k = 0;
                double? min = lo is null ? null : v[k++].ToScalar();
                double? max = hi is null ? null : v[k].ToScalar();
                return new ClipOp(min, max);
            }, (d, _) => d[0]));
        };
    }

    /// <summary>Gelu's tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as ONNX Gelu-20 defines it.</summary>
    private static Node GeluTanh(OnnxNodeContext c, Node x)
    {
        if (!x.DType.IsFloatingPoint()) throw new DTypeMismatchException("Gelu", $"a floating-point input, got {x.DType.Name()}");
        var inner = Mul(Add(x, Mul(Mul(Square(x), x), c.Graph.Constant(0.044715, x.DType))), c.Graph.Constant(Math.Sqrt(2 / Math.PI), x.DType));
        return Mul(Mul(x, c.Graph.Constant(0.5, x.DType)), Add(Tanh(inner), c.Graph.Constant(1.0, x.DType)));
    }

    private static Node Compare(OnnxNodeContext c, Func<Node, Node, Node> f)
    {
        Node a = c.Required(0), b = c.Required(1);
        if (a.DType == DType.Bool) { a = Cast(a, DType.UInt8); b = Cast(b, DType.UInt8); }
        return f(a, b);
    }

    private static Node Variadic(OnnxNodeContext c, Func<Node, Node, Node> f)
    {
        var acc = c.Required(0);
        for (int i = 1; i < c.InputCount; i++) acc = f(acc, c.Required(i));
        if (c.InputCount == 1) acc = ExpandLike(acc, acc);
        return acc;
    }
}
