using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Selection;

namespace Tessera.Trees.Tests;

public class ModelSelectionTests
{
    [Fact]
    public void Stratified_folds_partition_the_rows_and_keep_class_proportions()
    {
        var classes = Enumerable.Range(0, 100).Select(i => i < 80 ? 0 : 1).ToArray();
        var folds = DataSplits.KFold(100, 5, seed: 3, classes);
        Assert.Equal(5, folds.Count);
        Assert.Equal(Enumerable.Range(0, 100), folds.SelectMany(f => f.Test).OrderBy(i => i));
        foreach (var (train, test) in folds)
        {
            Assert.Empty(train.Intersect(test));
            Assert.Equal(100, train.Length + test.Length);
            Assert.Equal(4, test.Count(r => classes[r] == 1));
        }
    }

    [Fact]
    public void Train_test_split_is_stratified_and_seeded()
    {
        var classes = Enumerable.Range(0, 50).Select(i => i % 5 == 0 ? 1 : 0).ToArray();
        var (train, test) = DataSplits.TrainTest(50, 0.2, 1, classes);
        Assert.Equal(10, test.Length);
        Assert.Equal(2, test.Count(r => classes[r] == 1));
        Assert.Equal(test, DataSplits.TrainTest(50, 0.2, 1, classes).Test);
        Assert.NotEqual(test, DataSplits.TrainTest(50, 0.2, 2, classes).Test);
    }

    [Fact]
    public void Cross_validation_reports_mean_and_std_over_folds()
    {
        var data = CsvTableReader.ReadFile(Fixtures.Path("breast_cancer_train.csv"), new CsvReadOptions { Label = "target" });
        var o = new BoosterOptions { Objective = "binary:logistic", Rounds = 10, MaxDepth = 3 };
        var cv = ModelSelection.CrossValidate(data, d => GradientBooster.Train(d, o), isClassification: true, folds: 4);
        Assert.Equal(4, cv.Folds.Count);
        var acc = cv.Folds.Select(f => f["accuracy"]).ToArray();
        Assert.Equal(acc.Average(), cv.Mean["accuracy"], 12);
        double sd = Math.Sqrt(acc.Sum(a => (a - acc.Average()) * (a - acc.Average())) / 3);
        Assert.Equal(sd, cv.Std["accuracy"], 12);
        Assert.InRange(cv.Mean["accuracy"], 0.9, 1.0);
        Assert.True(cv.Mean.ContainsKey("auc") && cv.Mean.ContainsKey("logloss"));
    }

    [Fact]
    public void Grid_search_tries_every_combination_and_picks_the_best_mean()
    {
        var grid = ModelSelection.ParseGrid("max_depth=1,3;learning_rate=0.05,0.5");
        var settings = ModelSelection.GridCombinations(grid).ToList();
        Assert.Equal(4, settings.Count);
        var data = Fixtures.Case("diabetes_squarederror").Read("diabetes_train.csv");
        var result = ModelSelection.Search(data, settings,
            (p, d) => GradientBooster.Train(d, ModelSelection.Apply(new BoosterOptions { Rounds = 10 }, p)),
            isClassification: false, metric: "rmse", folds: 3, seed: 0);
        Assert.Equal(4, result.Trials.Count);
        Assert.Equal(result.Trials.Min(t => t.Scores.Mean["rmse"]), result.Best.Scores.Mean["rmse"]);
    }

    [Fact]
    public void Random_search_draws_within_ranges_and_bad_grids_are_explained()
    {
        var grid = ModelSelection.ParseGrid("max_depth=2:8;learning_rate=0.01:0.3;subsample=0.5,1");
        foreach (var p in ModelSelection.RandomCombinations(grid, 20, 1))
        {
            Assert.InRange(int.Parse(p["max_depth"]), 2, 8);
            Assert.InRange(double.Parse(p["learning_rate"], System.Globalization.CultureInfo.InvariantCulture), 0.01, 0.3);
            Assert.Contains(p["subsample"], new[] { "0.5", "1" });
        }
        Assert.Contains("name=value", Assert.Throws<ArgumentException>(() => ModelSelection.ParseGrid("max_depth")).Message);
        Assert.Contains("unknown boosting parameter 'depth'",
            Assert.Throws<ArgumentException>(() => ModelSelection.Apply(new BoosterOptions(), new Dictionary<string, string> { ["depth"] = "3" })).Message);
    }
}
