using Tessera.Trees.Boosting;
using Tessera.Trees.Data;

namespace Tessera.Trees.Tests;

/// <summary>Determinism, persistence, missing values, categorical splits, growth limits and importance.</summary>
public class BoosterBehaviourTests
{
    private static TabularData BreastCancer(string split) =>
        CsvTableReader.ReadFile(Fixtures.Path($"breast_cancer_{split}.csv"), new CsvReadOptions { Label = "target" });

    [Fact]
    public void Same_seed_gives_the_same_model_for_any_thread_count_even_with_subsampling()
    {
        var train = Fixtures.Case("wine_softprob").Read("wine_train.csv");
        var test = Fixtures.Case("wine_softprob").Read("wine_test.csv");
        var o = new BoosterOptions { Objective = "multi:softprob", Rounds = 15, Subsample = 0.7, ColsampleByTree = 0.6, ColsampleByNode = 0.8, Seed = 11 };
        var a = GradientBooster.Train(train, o with { Threads = 1 }).Predict(test);
        var b = GradientBooster.Train(train, o with { Threads = 2 }).Predict(test);
        var c = GradientBooster.Train(train, o with { Threads = 2 }).Predict(test);
        var d = GradientBooster.Train(train, o with { Threads = 2, Seed = 12 }).Predict(test);
        Assert.Equal(a, b);
        Assert.Equal(b, c);
        Assert.NotEqual(a, d);
    }

    [Fact]
    public void Json_round_trip_predicts_identically()
    {
        var train = Fixtures.Case("categorical_partition").Read("categorical_train.csv");
        var test = Fixtures.Case("categorical_partition").Read("categorical_test.csv");
        var model = GradientBooster.Train(train, new BoosterOptions { Objective = "binary:logistic", Rounds = 10, MaxCatToOneHot = 1 });
        string path = Path.Combine(Path.GetTempPath(), $"tessera-gbdt-{Guid.NewGuid():N}.json");
        try
        {
            model.Save(path);
            var loaded = BoostedTreesModel.Load(path);
            Assert.Equal(model.Predict(test), loaded.Predict(test));
            Assert.Equal(model.ClassLabels, loaded.ClassLabels);
            Assert.Equal(model.Columns.Select(c => c.Name), loaded.Columns.Select(c => c.Name));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Loading_a_file_that_is_not_a_model_names_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tessera-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{\"format\":\"something-else\"}");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => BoostedTreesModel.Load(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Missing_values_follow_the_learned_default_direction()
    {
        // x0 is missing exactly when the label is 1 and uniform otherwise: only the default direction can separate.
        var rng = new Random(1);
        int n = 300;
        var x = new float[n, 2];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % 2;
            x[i, 0] = y[i] == 1 ? float.NaN : (float)rng.NextDouble();
            x[i, 1] = (float)rng.NextDouble();
        }
        var data = TabularData.FromRows(x, y);
        var model = GradientBooster.Train(data, new BoosterOptions { Objective = "binary:logistic", Rounds = 5, MaxDepth = 1 });
        var root = model.Trees[0];
        Assert.Equal(0, root.Feature[0]);
        Assert.Equal(float.PositiveInfinity, root.Threshold[0]); // all values one way, missing the other
        var p = model.Predict(data);
        for (int i = 0; i < n; i++) Assert.Equal(y[i] == 1, p[i] > 0.5);
    }

    [Fact]
    public void Categorical_partition_split_separates_non_ordinal_categories_in_one_split()
    {
        // Categories {1, 3, 4} are positive: no single numeric threshold on the codes separates them.
        int n = 500;
        var x = new float[n];
        var y = new double[n];
        for (int i = 0; i < n; i++) { x[i] = i % 6; y[i] = x[i] is 1 or 3 or 4 ? 1 : 0; }
        var columns = new[] { new FeatureColumn("c", true, ["a", "b", "c", "d", "e", "f"]) };
        var data = new TabularData(x, n, columns, y);
        var o = new BoosterOptions { Objective = "binary:logistic", Rounds = 3, MaxDepth = 1, MaxCatToOneHot = 1 };
        var model = GradientBooster.Train(data, o);
        var p = model.Predict(data);
        for (int i = 0; i < n; i++) Assert.Equal(y[i] == 1, p[i] > 0.5);
        Assert.True(model.Trees[0].CategorySet[0] >= 0);

        // The same column read as numeric codes needs more than one split.
        var numeric = new TabularData(x, n, [FeatureColumn.Numeric("c")], y);
        var stump = GradientBooster.Train(numeric, o).Predict(numeric);
        Assert.Contains(Enumerable.Range(0, n), i => (stump[i] > 0.5) != (y[i] == 1));
    }

    [Fact]
    public void Leaf_wise_growth_respects_max_leaves_and_depth_wise_respects_max_depth()
    {
        var train = BreastCancer("train");
        var leafWise = GradientBooster.Train(train, new BoosterOptions
        { Objective = "binary:logistic", Rounds = 5, GrowPolicy = GrowPolicy.LeafWise, MaxLeaves = 5, MaxDepth = 0 });
        Assert.All(leafWise.Trees, t => Assert.InRange(t.LeafCount, 2, 5));
        var depthWise = GradientBooster.Train(train, new BoosterOptions { Objective = "binary:logistic", Rounds = 5, MaxDepth = 2 });
        Assert.All(depthWise.Trees, t => Assert.InRange(t.Depth(), 1, 2));
    }

    [Fact]
    public void Regularisation_shrinks_leaf_weights()
    {
        var train = BreastCancer("train");
        double MaxLeaf(BoosterOptions o) => GradientBooster.Train(train, o).Trees[0].Values.Max(Math.Abs);
        var baseline = new BoosterOptions { Objective = "binary:logistic", Rounds = 1, MaxDepth = 3 };
        Assert.True(MaxLeaf(baseline with { Lambda = 50 }) < MaxLeaf(baseline));
        Assert.True(MaxLeaf(baseline with { Alpha = 5 }) < MaxLeaf(baseline));
        Assert.True(MaxLeaf(baseline with { MaxDeltaStep = 0.01 }) <= 0.3 * 0.01 + 1e-12);
    }

    [Fact]
    public void Feature_importance_ranks_the_informative_feature_first_and_ignores_constant_ones()
    {
        var rng = new Random(2);
        int n = 400;
        var x = new float[n, 3];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i, 0] = 7f; // constant
            x[i, 1] = (float)rng.NextDouble();
            x[i, 2] = (float)rng.NextDouble();
            y[i] = 3 * x[i, 1] + 0.1 * x[i, 2];
        }
        var model = GradientBooster.Train(TabularData.FromRows(x, y), new BoosterOptions { Rounds = 20, MaxDepth = 3 });
        var gain = model.FeatureImportance(ImportanceType.TotalGain);
        var count = model.FeatureImportance(ImportanceType.SplitCount);
        Assert.False(gain.ContainsKey("f0"));
        Assert.True(gain["f1"] > gain["f2"]);
        Assert.Equal(count.Values.Sum(), model.Trees.Sum(t => t.NodeCount - t.LeafCount));
    }

    [Fact]
    public void Training_loss_decreases_for_every_objective()
    {
        var train = Fixtures.Case("diabetes_squarederror").Read("diabetes_train.csv");
        foreach (var objective in new[] { "reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror" })
        {
            var o = new BoosterOptions { Objective = objective, MaxDepth = 3, LearningRate = 0.3, HuberSlope = 20 };
            double Mae(int rounds) => Metrics.Mae(GradientBooster.Train(train, o with { Rounds = rounds }).Predict(train), train.Labels);
            Assert.True(Mae(20) < Mae(2), objective);
        }
    }
}
