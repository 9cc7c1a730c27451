using Tessera.Trees.Boosting;
using Tessera.Trees.Data;
using Tessera.Trees.Forest;

namespace Tessera.Trees.Tests;

/// <summary>
/// The packed batch predictor (<see cref="PackedEnsemble"/>: breadth-first node arrays, branch-free steps, blocks of
/// rows in lockstep, parallel blocks) gives exactly the sums of the simple one-row-one-tree walk.
/// </summary>
public class PredictionPathTests
{
    /// <summary>Runs <paramref name="check"/> with the AVX2 walk (where the CPU has it) and with the scalar walks.</summary>
    private static void BothWalks(Action check)
    {
        bool saved = PackedEnsemble.VectorWalk;
        try
        {
            check();
            PackedEnsemble.VectorWalk = false;
            check();
        }
        finally { PackedEnsemble.VectorWalk = saved; }
    }

    private static TabularData Read(string file, params string[] categorical) =>
        CsvTableReader.ReadFile(Fixtures.Path(file), new CsvReadOptions { Label = "target", Categorical = categorical });

    /// <summary>Test rows repeated (many blocks, a partial last one, a tail of fewer than 8 rows), with some cells set to ±infinity.</summary>
    private static float[] ManyRows(TabularData test, int rows)
    {
        int m = test.ColumnCount;
        var x = new float[rows * m];
        for (int r = 0; r < rows; r++) test.Row(r % test.Rows).CopyTo(x.AsSpan(r * m, m));
        var rng = new Random(3);
        for (int i = 0; i < 20; i++) x[rng.Next(x.Length)] = rng.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity;
        return x;
    }

    public static TheoryData<string, string, string[]> BoostedCases => new()
    {
        { "breast_cancer_missing", "binary:logistic", [] },   // NaN cells: both default directions
        { "wine", "multi:softprob", [] },                      // one tree per class, output i % 3
        { "categorical", "binary:logistic", ["color"] },       // categorical splits: the tree-walk fallback
        { "diabetes", "reg:squarederror", [] },
    };

    [Theory]
    [MemberData(nameof(BoostedCases))]
    public void Boosted_margins_equal_the_simple_walk_exactly_for_any_thread_count(string data, string objective, string[] categorical)
    {
        var train = Read(data + "_train.csv", categorical);
        var test = Read(data + "_test.csv", categorical);
        var model = GradientBooster.Train(train, new BoosterOptions { Objective = objective, Rounds = 30, MaxDepth = 5, Threads = 2 });
        int rows = 1003, m = test.ColumnCount, k = model.Outputs;
        var x = ManyRows(test, rows);

        var expected = new double[rows * k];
        Array.Fill(expected, model.BaseMargin);
        TreeEvaluation.AddAllSimple(model.Trees, x, m, rows, k, 1.0, expected);

        BothWalks(() =>
        {
            Assert.Equal(expected, model.PredictMargins(x, rows, threads: 1));
            Assert.Equal(expected, model.PredictMargins(x, rows, threads: 2));
            Assert.Equal(expected, model.PredictMargins(x, rows, threads: 7));
        });
        // The table overload goes through the same path.
        var fromTable = new double[test.Rows * k];
        Array.Fill(fromTable, model.BaseMargin);
        TreeEvaluation.AddAllSimple(model.Trees, FeatureAlignment.Align(model.Columns, test), m, test.Rows, k, 1.0, fromTable);
        Assert.Equal(fromTable, model.PredictMargins(test));
    }

    [Theory]
    [InlineData("diabetes", false)] // fully grown regression trees, deeper than the scalar lockstep limit
    [InlineData("wine", true)]      // class-probability leaves (3 values each), shallow trees
    public void Forest_scores_equal_the_simple_walk_exactly(string data, bool classification)
    {
        var train = Read(data + "_train.csv");
        var test = Read(data + "_test.csv");
        var model = RandomForest.Train(train, new RandomForestOptions { Classification = classification, Trees = 30, Seed = 2, Threads = 2 });
        if (!classification) Assert.Contains(model.Trees, t => t.Depth() > 10);
        int rows = 700, m = test.ColumnCount, k = model.Outputs;
        var x = ManyRows(test, rows);
        var expected = new double[rows * k];
        TreeEvaluation.AddAllSimple(model.Trees, x, m, rows, k, 1.0 / model.Trees.Count, expected);
        BothWalks(() =>
        {
            Assert.Equal(expected, model.PredictScores(x, rows, threads: 1));
            Assert.Equal(expected, model.PredictScores(x, rows, threads: 2));
        });
    }

    [Fact]
    public void Row_buffer_of_the_wrong_length_is_a_clear_error()
    {
        var train = Read("breast_cancer_train.csv");
        var model = GradientBooster.Train(train, new BoosterOptions { Objective = "binary:logistic", Rounds = 2 });
        var e = Assert.Throws<ArgumentException>(() => model.Predict(new float[29], 1));
        Assert.Contains("30 features need 30 values", e.Message);
    }
}
