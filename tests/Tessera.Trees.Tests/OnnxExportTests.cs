using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;
using Tessera.Trees.Onnx;

namespace Tessera.Trees.Tests;

/// <summary>Exported ONNX-ML tree ensembles give Tessera's predictions in ONNX Runtime (float32 sums: 1e-5).</summary>
public class OnnxExportTests
{
    private static (float[] Probabilities, long[] Labels) RunClassifier(byte[] model, TabularData data, int classes)
    {
        using var session = new InferenceSession(model);
        var input = new DenseTensor<float>(data.Features, [data.Rows, data.ColumnCount]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        var labels = results.First(r => r.Name == "label").AsTensor<long>().ToArray();
        var p = results.First(r => r.Name == "probabilities").AsTensor<float>().ToArray();
        Assert.Equal(data.Rows * classes, p.Length);
        return (p, labels);
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(max < tolerance, $"max |tessera - onnxruntime| = {max}");
    }

    [Theory]
    [InlineData("breast_cancer_missing")]
    [InlineData("wine_softprob")]
    public void Boosted_classifier_matches_in_onnx_runtime(string name)
    {
        var c = Fixtures.Case(name);
        var train = c.Read(c.Train);
        var test = c.Read(c.Test);
        var model = GradientBooster.Train(train, c.Options());
        var (p, labels) = RunClassifier(OnnxTreeExporter.Export(model), test, model.ClassCount);
        AssertClose(model.PredictProbabilities(test), p, 1e-5);
        Assert.Equal(model.PredictClasses(test).Select(v => (long)v), labels);
    }

    [Fact]
    public void Boosted_regressor_matches_in_onnx_runtime()
    {
        var c = Fixtures.Case("diabetes_squarederror");
        var train = c.Read(c.Train);
        var test = c.Read(c.Test);
        var model = GradientBooster.Train(train, c.Options());
        using var session = new InferenceSession(OnnxTreeExporter.Export(model));
        var input = new DenseTensor<float>(test.Features, [test.Rows, test.ColumnCount]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        var y = results.First().AsTensor<float>().ToArray();
        var expected = model.Predict(test);
        double max = expected.Zip(y, (e, a) => Math.Abs(e - a) / Math.Max(1, Math.Abs(e))).Max();
        Assert.True(max < 1e-5, $"max relative difference {max}");
    }

    [Fact]
    public void Random_forest_classifier_matches_in_onnx_runtime()
    {
        var train = CsvTableReader.ReadFile(Fixtures.Path("wine_train.csv"), new CsvReadOptions { Label = "target" });
        var test = CsvTableReader.ReadFile(Fixtures.Path("wine_test.csv"), new CsvReadOptions { Label = "target" });
        var model = RandomForest.Train(train, new RandomForestOptions { Trees = 25, Seed = 2 });
        var (p, _) = RunClassifier(OnnxTreeExporter.Export(model), test, 3);
        AssertClose(model.PredictScores(test), p, 1e-5);
    }

    [Fact]
    public void Category_set_splits_are_refused_naming_the_column()
    {
        var c = Fixtures.Case("categorical_partition");
        var model = GradientBooster.Train(c.Read(c.Train), c.Options());
        var e = Assert.Throws<NotSupportedException>(() => OnnxTreeExporter.Export(model));
        Assert.Contains("'color'", e.Message);
    }
}
