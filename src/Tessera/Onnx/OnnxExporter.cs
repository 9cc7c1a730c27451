using Google.Protobuf;
using Tessera.Graphs;
using Tessera.Nn;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>
/// Writes a Tessera graph as an ONNX model (default domain, opset 13): the given input nodes become graph inputs,
/// bound inputs that are not among them (parameters) and constants become initializers, and each registry op on the
/// path to the outputs becomes one ONNX node (plus initializers for shape/axes inputs).
/// </summary>
/// <example><code>
/// OnnxExporter.Export(trainer.Model, sampleShape: [784], "mlp.onnx");   // input "input" (N, 784), output "logits"
/// </code></example>
public static class OnnxExporter
{
    public const int Opset = 13;

    /// <summary>Exports a network in eval mode with input "input" of shape (N, sampleShape…) and output "logits".</summary>
    public static void Export(Module module, int[] sampleShape, string path, DType dtype = DType.Float32)
    {
        var g = new Graph();
        var x = g.Input(dtype, [-1, .. sampleShape], "input");
        var y = module.Forward(x, new ForwardContext(g, training: false));
        File.WriteAllBytes(path, ToModel(g, [x], [y], ["input"], ["logits"]).ToByteArray());
    }

    /// <summary>The ONNX model computing <paramref name="outputs"/> from <paramref name="inputs"/>.</summary>
    public static ModelProto ToModel(Graph graph, Node[] inputs, Node[] outputs, string[]? inputNames = null, string[]? outputNames = null)
    {
        var gp = new GraphProto { Name = "tessera" };
        var names = new Dictionary<Node, string>();
        var used = new HashSet<string>();
        string Unique(string s) { var n = s; for (int i = 1; !used.Add(n); i++) n = $"{s}_{i}"; return n; }

        for (int i = 0; i < inputs.Length; i++)
        {
            names[inputs[i]] = Unique(inputNames?[i] ?? inputs[i].Name);
            gp.Input.Add(ValueInfo(names[inputs[i]], inputs[i].Type));
        }
        var needed = new bool[graph.Nodes.Count];
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (needed[n.Id]) continue;
            needed[n.Id] = true;
            if (!inputs.Contains(n)) foreach (var i in n.Inputs) stack.Push(i);
        }
        var writer = new NodeWriter(gp, Unique);
        foreach (var n in graph.Nodes)
        {
            if (!needed[n.Id] || names.ContainsKey(n)) continue;
            if (n.Kind != NodeKind.Operation)
            {
                var value = n.Value ?? throw new ArgumentException($"Export: {n.Name} is an input with no value and not among the model's inputs.");
                names[n] = Unique(n.Kind == NodeKind.Constant ? "const_" + n.Name : n.Name);
                gp.Initializer.Add(OnnxTensors.FromTensor(value, names[n]));
                continue;
            }
            names[n] = Unique(n.Name);
            writer.Write(n.Operation!, [.. n.Inputs.Select(i => names[i])], names[n], n);
        }
        for (int i = 0; i < outputs.Length; i++)
        {
            var name = outputNames?[i] ?? names[outputs[i]];
            if (name != names[outputs[i]])
                gp.Node.Add(new NodeProto { OpType = "Identity", Input = { names[outputs[i]] }, Output = { name }, Name = "output_" + name });
            gp.Output.Add(ValueInfo(name, outputs[i].Type));
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "Tessera", ProducerVersion = "0.1", Graph = gp };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, TensorType t)
    {
        var shape = new TensorShapeProto();
        for (int d = 0; d < t.Rank; d++)
            shape.Dim.Add(t.Shape[d] < 0 ? new TensorShapeProto.Types.Dimension { DimParam = d == 0 ? "N" : $"d{d}" } : new TensorShapeProto.Types.Dimension { DimValue = t.Shape[d] });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensors.FromDType(t.DType), Shape = shape } } };
    }

    private sealed class NodeWriter(GraphProto graph, Func<string, string> unique)
    {
        private NodeProto Add(string op, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var n = new NodeProto { OpType = op, Name = unique(output + "_" + op) };
            n.Input.Add(inputs); n.Output.Add(output); n.Attribute.Add(attributes);
            graph.Node.Add(n);
            return n;
        }

        private string Longs(string hint, params long[] values)
        {
            var name = unique(hint);
            graph.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(values, values.Length), name));
            return name;
        }

        private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
        private static AttributeProto Float(string name, double v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)v };
        private static AttributeProto Ints(string name, IEnumerable<int> v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.Add(v.Select(x => (long)x));
            return a;
        }

        public void Write(Operation op, string[] x, string y, Node node)
        {
            switch (op)
            {
                case AddOp: Add("Add", x, y); break;
                case SubOp: Add("Sub", x, y); break;
                case MulOp: Add("Mul", x, y); break;
                case DivOp: Add("Div", x, y); break;
                case PowOp: Add("Pow", x, y); break;
                case MaximumOp: Add("Max", x, y); break;
                case MinimumOp: Add("Min", x, y); break;
                case SquareOp: Add("Mul", [x[0], x[0]], y); break;
                case MatMulOp: Add("MatMul", x, y); break;
                case LeakyReluOp l: Add("LeakyRelu", x, y, Float("alpha", l.Alpha)); break;
                case MathOp m: Add(m.Function.ToString(), x, y); break;
                case NegOp or AbsOp or ExpOp or LogOp or SqrtOp or ReciprocalOp or TanhOp or SigmoidOp or ReluOp or ErfOp or SinOp or CosOp or SoftplusOp or SignOp:
                    Add(op.Name, x, y); break;
                case PermuteOp p: Add("Transpose", x, y, Ints("perm", p.Axes)); break;
                case ReshapeOp r: Add("Reshape", [x[0], Longs(y + "_shape", [.. r.TargetShape.Select(d => (long)d)])], y); break;
                case ReshapeToOp r: Add("Reshape", [x[0], Longs(y + "_shape", r.Target)], y, Int("allowzero", r.AllowZero ? 1 : 0)); break;
                case FlattenOp f: Add("Flatten", x, y, Int("axis", f.Axis)); break;
                case UnsqueezeOp u: Add("Unsqueeze", [x[0], Longs(y + "_axes", [.. u.Axes.Select(a => (long)a)])], y); break;
                case SqueezeOp s: Add("Squeeze", [x[0], Longs(y + "_axes", [.. s.Axes.Select(a => (long)a)])], y); break;
                case ConcatOp c: Add("Concat", x, y, Int("axis", c.Axis)); break;
                case GatherOp g: Add("Gather", x, y, Int("axis", g.Axis)); break;
                case CastOp c: Add("Cast", x, y, Int("to", OnnxTensors.FromDType(c.To))); break;
                case SoftmaxOp s: Add(s.Log ? "LogSoftmax" : "Softmax", x, y, Int("axis", s.Axis)); break;
                case MeanOp m: Add("ReduceMean", x, y, Reduce(m, node.Inputs[0].Rank)); break;
                case ReduceOp r when r.Kind == Kernels.ReduceKind.Sum:
                    Add("ReduceSum", [x[0], Longs(y + "_axes", [.. r.ResolveAxes(node.Inputs[0].Rank).Select(a => (long)a)])], y, Int("keepdims", r.KeepDims ? 1 : 0)); break;
                case ReduceOp r: Add("Reduce" + r.Kind, x, y, Reduce(r, node.Inputs[0].Rank)); break;
                case Conv2dOp c:
                {
                    var w = node.Inputs[1].Shape;
                    Add("Conv", x, y, Ints("kernel_shape", [w[2], w[3]]), Ints("strides", c.Window.Strides), Ints("pads", c.Window.Pads),
                        Ints("dilations", c.Window.Dilations), Int("group", c.Window.Groups));
                    break;
                }
                case Pool2dOp p:
                    if (p.IsMax) Add("MaxPool", x, y, Ints("kernel_shape", p.Kernel), Ints("strides", p.Window.Strides), Ints("pads", p.Window.Pads));
                    else Add("AveragePool", x, y, Ints("kernel_shape", p.Kernel), Ints("strides", p.Window.Strides), Ints("pads", p.Window.Pads),
                        Int("count_include_pad", p.CountIncludePad ? 1 : 0));
                    break;
                case ClipOp c:
                {
                    string min = c.Min is double lo ? Scalar(y + "_min", lo, node.DType) : "", max = c.Max is double hi ? Scalar(y + "_max", hi, node.DType) : "";
                    Add("Clip", [x[0], min, max], y);
                    break;
                }
                case WhereOp: Add("Where", x, y); break;
                case CompareOp c: Add(c.Comparison switch
                {
                    Comparison.Equal => "Equal", Comparison.Less => "Less", Comparison.LessEqual => "LessOrEqual",
                    Comparison.Greater => "Greater", Comparison.GreaterEqual => "GreaterOrEqual",
                    _ => throw new NotSupportedException("Export: NotEqual has no single ONNX operator."),
                }, x, y); break;
                case ExpandLikeOp or IdentityOp: Add("Identity", [x[0]], y); break;
                default:
                    throw new NotSupportedException($"Export: op {op.Name} ({op.GetType().Name}) has no ONNX mapping yet.");
            }
        }

        private string Scalar(string hint, double v, DType dtype)
        {
            var name = unique(hint);
            graph.Initializer.Add(OnnxTensors.FromTensor(Tensor.Scalar(v, dtype), name));
            return name;
        }

        private static AttributeProto[] Reduce(AxesOp op, int rank) => [Ints("axes", op.ResolveAxes(rank)), Int("keepdims", op.KeepDims ? 1 : 0)];
    }
}
