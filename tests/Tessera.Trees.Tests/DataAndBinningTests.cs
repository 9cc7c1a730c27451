using Tessera.Trees.Boosting;
using Tessera.Trees.Data;

namespace Tessera.Trees.Tests;

/// <summary>CSV reading (and its errors) and quantile binning.</summary>
public class DataAndBinningTests
{
    [Fact]
    public void Reads_numeric_categorical_and_missing_cells()
    {
        var d = CsvTableReader.ReadText("a,color,b,y\n1.5,red,,0\n,blue,2,1\n3,red,NA,0\n");
        Assert.Equal(3, d.Rows);
        Assert.Equal(["a", "color", "b"], d.Columns.Select(c => c.Name));
        Assert.True(d.Columns[1].IsCategorical);
        Assert.Equal(["red", "blue"], d.Columns[1].Categories);
        Assert.True(float.IsNaN(d.Row(0)[2]));
        Assert.True(float.IsNaN(d.Row(1)[0]));
        Assert.Equal(1f, d.Row(1)[1]);
        Assert.Equal([0.0, 1.0, 0.0], d.Labels);
    }

    [Fact]
    public void Reads_tab_separated_text_labels_and_quoted_fields()
    {
        var d = CsvTableReader.ReadText("x\tname\tkind\n1\t\"a, b\"\tcat\n2\t\"say \"\"hi\"\"\"\tdog\n", new CsvReadOptions { Label = "kind" });
        Assert.Equal(["cat", "dog"], d.LabelNames);
        Assert.Equal(["a, b", "say \"hi\""], d.Columns[1].Categories);
    }

    [Fact]
    public void Non_numeric_cell_in_numeric_column_names_row_and_column()
    {
        var e = Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText("age,y\n30,0\n41,1\nforty,0\n"));
        Assert.Contains("row 3", e.Message);
        Assert.Contains("'age'", e.Message);
        Assert.Contains("'forty'", e.Message);
    }

    [Fact]
    public void Missing_label_column_lists_the_header()
    {
        var e = Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText("a,b\n1,2\n", new CsvReadOptions { Label = "target" }));
        Assert.Contains("'target'", e.Message);
        Assert.Contains("a, b", e.Message);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    public void Non_finite_label_names_the_row(string label)
    {
        var e = Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText($"a,y\n1,0\n2,{label}\n"));
        Assert.Contains("row 2", e.Message);
        Assert.Contains("'y'", e.Message);
    }

    [Fact]
    public void Empty_file_header_only_and_ragged_rows_are_clear_errors()
    {
        Assert.Contains("empty", Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText("")).Message);
        Assert.Contains("no data rows", Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText("a,y\n")).Message);
        var e = Assert.Throws<TabularDataException>(() => CsvTableReader.ReadText("a,b,y\n1,2,0\n1,0\n"));
        Assert.Contains("row 2", e.Message);
        Assert.Contains("2 cells", e.Message);
    }

    [Fact]
    public void Single_class_is_rejected_for_classification()
    {
        var d = CsvTableReader.ReadText("a,y\n1,1\n2,1\n3,1\n");
        var e = Assert.Throws<TabularDataException>(() => GradientBooster.Train(d, new BoosterOptions { Objective = "binary:logistic" }));
        Assert.Contains("single class", e.Message);
        Assert.Throws<TabularDataException>(() => Forest.RandomForest.Train(d, new Forest.RandomForestOptions()));
    }

    [Fact]
    public void Binary_objective_with_three_classes_suggests_softprob()
    {
        var d = CsvTableReader.ReadText("a,y\n1,0\n2,1\n3,2\n");
        var e = Assert.Throws<TabularDataException>(() => GradientBooster.Train(d, new BoosterOptions { Objective = "binary:logistic" }));
        Assert.Contains("multi:softprob", e.Message);
    }

    [Fact]
    public void Unknown_objective_and_bad_parameters_are_named()
    {
        var d = CsvTableReader.ReadText("a,y\n1,0\n2,1\n");
        Assert.Contains("reg:squared", Assert.Throws<ArgumentException>(() => GradientBooster.Train(d, new BoosterOptions { Objective = "reg:cubic" })).Message);
        Assert.Contains("max_bin", Assert.Throws<ArgumentOutOfRangeException>(() => GradientBooster.Train(d, new BoosterOptions { MaxBin = 300 })).Message);
    }

    [Fact]
    public void Counting_and_sorting_pick_the_same_cuts()
    {
        var rng = new Random(4);
        foreach (int distinct in new[] { 3, 40, 255, 256, 1000 })
        {
            var values = Enumerable.Range(0, 5000).Select(_ => (float)rng.Next(distinct)).ToArray();
            var counts = new int[distinct];
            foreach (var v in values) counts[(int)v]++;
            var fromCounts = QuantileCuts.FromCounts(counts, 255);
            var sorted = (float[])values.Clone();
            Array.Sort(sorted);
            var fromSort = QuantileCuts.FromSorted(sorted, 255);
            Assert.Equal(fromSort, fromCounts);
        }
    }

    [Fact]
    public void Pruned_cuts_follow_xgboosts_summary_pruning_on_a_hand_worked_case()
    {
        // Ten distinct values, one row each, 4 bins: the pruned summary keeps ranks 0, 3, 5, 7, 9 (target ranks
        // 3, 5, 7 fall exactly on the midpoint between two entries and take the upper one), and its first entry,
        // the minimum, is not a cut.
        var values = Enumerable.Range(0, 10).Select(v => (float)v).ToArray();
        Assert.Equal(new float[] { 3, 5, 7 }, QuantileCuts.FromSorted(values, 4));
        // With at most max_bin distinct values every value but the smallest starts a bin.
        Assert.Equal(new float[] { 1, 2, 3 }, QuantileCuts.FromSorted(new float[] { 0, 0, 1, 2, 2, 3 }, 4));
    }

    [Theory]
    [InlineData("breast_cancer_train.csv")]
    [InlineData("breast_cancer_missing_train.csv")]
    public void Every_value_xgboost_splits_at_is_one_of_our_cut_points(string file)
    {
        // 30 continuous features with up to ~390 distinct values in 400 rows, so max_bin 255 prunes most of them.
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Fixtures.Path("xgboost_split_values.json")));
        var data = CsvTableReader.ReadFile(Fixtures.Path(file), new CsvReadOptions { Label = "target" });
        var binned = FeatureBinner.Fit(data, 255, 2);
        int checkedValues = 0;
        foreach (var feature in doc.RootElement.GetProperty("files").GetProperty(file).EnumerateObject())
        {
            int f = data.Columns.ToList().FindIndex(c => c.Name == feature.Name);
            foreach (var v in feature.Value.EnumerateArray())
            {
                float value = v.GetSingle();
                Assert.True(Array.IndexOf(binned.Cuts[f], value) >= 0, $"{feature.Name}: XGBoost splits at {value}, which is not one of our cuts");
                checkedValues++;
            }
        }
        Assert.True(checkedValues > 100, $"only {checkedValues} split values in the fixture");
    }

    [Fact]
    public void Bin_order_matches_threshold_test_so_trees_predict_on_raw_values()
    {
        var rng = new Random(5);
        int n = 3000;
        var x = new float[n, 2];
        for (int i = 0; i < n; i++) { x[i, 0] = (float)rng.NextDouble() * 100; x[i, 1] = rng.Next(20); }
        var data = TabularData.FromRows(x, new double[n]);
        var binned = FeatureBinner.Fit(data, 64, 2);
        for (int f = 0; f < 2; f++)
        {
            Assert.True(binned.BinCount[f] <= 64);
            for (int b = 0; b < binned.BinCount[f]; b++)
            {
                float threshold = binned.Threshold(f, b);
                for (int r = 0; r < n; r++)
                    Assert.Equal(binned.Bins[f * n + r] <= b, x[r, f] < threshold);
            }
        }
    }
}
