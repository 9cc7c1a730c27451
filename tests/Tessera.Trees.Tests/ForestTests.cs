using System.Text.Json;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;

namespace Tessera.Trees.Tests;

/// <summary>Random forests against sklearn 1.2's RandomForest* on the same splits (tests/fixtures/trees/sklearn_forests.json).</summary>
public class ForestTests
{
    private static JsonElement Case(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("sklearn_forests.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
    }

    private static TabularData Read(string file) => CsvTableReader.ReadFile(Fixtures.Path(file), new CsvReadOptions { Label = "target" });

    [Theory]
    [InlineData("breast_cancer")]
    [InlineData("wine")]
    public void Classifier_accuracy_and_oob_score_are_within_three_points_of_sklearn(string name)
    {
        var c = Case(name);
        var train = Read(c.GetProperty("train").GetString()!);
        var test = Read(c.GetProperty("test").GetString()!);
        var model = RandomForest.Train(train, new RandomForestOptions { Trees = 100, Seed = 1, Threads = 2 });
        var y = LabelEncoding.EncodeWith(test, model.ClassLabels!);
        double accuracy = Metrics.Accuracy(model.PredictClasses(test), y);
        Assert.InRange(accuracy, c.GetProperty("accuracy").GetDouble() - 0.03, 1.0);
        Assert.InRange(model.OobScore, c.GetProperty("oob_score").GetDouble() - 0.03, c.GetProperty("oob_score").GetDouble() + 0.03);
    }

    [Fact]
    public void Regressor_rmse_is_within_five_percent_of_sklearn_and_oob_r2_close()
    {
        var c = Case("diabetes");
        var train = Read("diabetes_train.csv");
        var test = Read("diabetes_test.csv");
        var model = RandomForest.Train(train, new RandomForestOptions { Classification = false, Trees = 100, Seed = 1, Threads = 2 });
        double rmse = Metrics.Rmse(model.PredictScores(test), test.Labels);
        double sk = c.GetProperty("rmse").GetDouble();
        Assert.InRange(rmse, sk * 0.95, sk * 1.05);
        Assert.InRange(model.OobScore, c.GetProperty("oob_score").GetDouble() - 0.05, c.GetProperty("oob_score").GetDouble() + 0.05);
    }

    [Fact]
    public void Forest_is_deterministic_for_a_seed_and_any_thread_count_and_survives_json()
    {
        var train = Read("wine_train.csv");
        var test = Read("wine_test.csv");
        var a = RandomForest.Train(train, new RandomForestOptions { Trees = 20, Seed = 5, Threads = 1 });
        var b = RandomForest.Train(train, new RandomForestOptions { Trees = 20, Seed = 5, Threads = 2 });
        var other = RandomForest.Train(train, new RandomForestOptions { Trees = 20, Seed = 6, Threads = 2 });
        Assert.Equal(a.PredictScores(test), b.PredictScores(test));
        Assert.Equal(a.OobScore, b.OobScore);
        Assert.NotEqual(a.PredictScores(test), other.PredictScores(test));
        string path = Path.Combine(Path.GetTempPath(), $"tessera-rf-{Guid.NewGuid():N}.json");
        try
        {
            a.Save(path);
            var loaded = RandomForestModel.Load(path);
            Assert.Equal(a.PredictScores(test), loaded.PredictScores(test));
            Assert.Equal(a.OobScore, loaded.OobScore);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Feature_importances_sum_to_one_and_favour_the_informative_feature()
    {
        var rng = new Random(3);
        int n = 400;
        var x = new float[n, 4];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < 4; j++) x[i, j] = (float)rng.NextDouble();
            y[i] = x[i, 2] > 0.5 ? 1 : 0;
        }
        var model = RandomForest.Train(TabularData.FromRows(x, y), new RandomForestOptions { Trees = 30, Seed = 1 });
        var imp = model.FeatureImportance();
        Assert.Equal(1.0, imp.Values.Sum(), 9);
        Assert.Equal("f2", imp.MaxBy(kv => kv.Value).Key);
    }
}
