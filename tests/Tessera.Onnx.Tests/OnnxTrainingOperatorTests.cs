using Google.Protobuf;
using Tessera.Onnx.Proto;
using static Tessera.Onnx.Tests.OnnxModelTests;

namespace Tessera.Onnx.Tests;

/// <summary>
/// The ai.onnx.preview.training optimizers on cases the backend data does not cover (Adam after the first step,
/// with norm_coefficient_post), checked against the spec's formulas evaluated by hand in double.
/// </summary>
public class OnnxTrainingOperatorTests
{
    private static ModelProto Adam(params AttributeProto[] attributes)
    {
        var g = new GraphProto { Name = "adam" };
        g.Input.Add(Value("R", TensorProto.Types.DataType.Float));
        g.Input.Add(Value("T", TensorProto.Types.DataType.Int64));
        foreach (var n in new[] { "X", "G", "V", "H" }) g.Input.Add(Value(n, TensorProto.Types.DataType.Float, 2));
        foreach (var n in new[] { "X_new", "V_new", "H_new" }) g.Output.Add(Value(n, TensorProto.Types.DataType.Float, 2));
        var node = new NodeProto { OpType = "Adam", Domain = OnnxOperators.TrainingDomain, Input = { "R", "T", "X", "G", "V", "H" }, Output = { "X_new", "V_new", "H_new" } };
        node.Attribute.Add(attributes);
        g.Node.Add(node);
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = OnnxOperators.TrainingDomain, Version = 1 });
        return m;
    }

    private static AttributeProto F(string name, float v) => new() { Name = name, F = v, Type = AttributeProto.Types.AttributeType.Float };

    [Fact]
    public void Adam_after_the_first_step_applies_bias_correction_and_post_decay()
    {
        const float alpha = 0.8f, beta = 0.7f, eps = 1e-3f, norm = 0.01f, post = 0.1f, r = 0.5f;
        const long step = 3;
        float[] x = [1, -2], gr = [0.3f, 0.6f], v = [0.1f, -0.2f], h = [0.2f, 0.05f];
        using var model = OnnxModel.Load(Adam(F("alpha", alpha), F("beta", beta), F("epsilon", eps), F("norm_coefficient", norm), F("norm_coefficient_post", post)).ToByteArray());
        var y = model.Run(new Dictionary<string, Tensor>
        {
            ["R"] = Tensor.Scalar(r), ["T"] = Tensor.Scalar(step),
            ["X"] = Tensor.FromArray(x, 2), ["G"] = Tensor.FromArray(gr, 2), ["V"] = Tensor.FromArray(v, 2), ["H"] = Tensor.FromArray(h, 2),
        });
        for (int i = 0; i < 2; i++)
        {
            double g = (double)norm * x[i] + gr[i];
            double vNew = (double)alpha * v[i] + (1 - (double)alpha) * g;
            double hNew = (double)beta * h[i] + (1 - (double)beta) * g * g;
            double rate = r * Math.Sqrt(1 - Math.Pow(beta, step)) / (1 - Math.Pow(alpha, step));
            double xNew = (1 - (double)post) * (x[i] - rate * vNew / (Math.Sqrt(hNew) + eps));
            Assert.Equal(vNew, y["V_new"].GetDouble(i), 5);
            Assert.Equal(hNew, y["H_new"].GetDouble(i), 5);
            Assert.Equal(xNew, y["X_new"].GetDouble(i), 5);
        }
    }

    [Fact]
    public void Other_operators_of_non_default_domains_are_still_refused_by_name()
    {
        var m = Adam();
        m.Graph.Node[0].OpType = "Lamb";
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(m.ToByteArray()));
        Assert.Contains("Lamb", e.Message);
        Assert.Contains(OnnxOperators.TrainingDomain, e.Message);
    }

    [Fact]
    public void Optimizer_inputs_must_come_in_whole_groups()
    {
        var m = Adam();
        m.Graph.Node[0].Input.RemoveAt(5);
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(m.ToByteArray()));
        Assert.Contains("R, T and 4 equally long lists", e.Message);
    }
}
