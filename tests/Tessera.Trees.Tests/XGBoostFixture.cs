using System.Globalization;
using System.Text.Json;
using Tessera.Trees.Boosting;
using Tessera.Trees.Data;

namespace Tessera.Trees.Tests;

/// <summary>One case of tests/fixtures/trees/xgboost_cases.json (made by tools/trees/make_trees_fixtures.py).</summary>
public sealed record XGBoostCase(string Name, string Train, string Test, string Label, int Rounds,
    Dictionary<string, JsonElement> Params, string[] Categorical, double[] Predictions, Dictionary<string, double> Metrics,
    int? EarlyStoppingRounds, int? BestIteration)
{
    public override string ToString() => Name;

    public string Objective => Params["objective"].GetString()!;

    public BoosterOptions Options(int threads = 2)
    {
        double D(string key, double fallback) => Params.TryGetValue(key, out var v) ? v.GetDouble() : fallback;
        int I(string key, int fallback) => Params.TryGetValue(key, out var v) ? v.GetInt32() : fallback;
        return new BoosterOptions
        {
            Objective = Objective,
            Rounds = Rounds,
            LearningRate = D("eta", 0.3),
            MaxDepth = I("max_depth", 6),
            MaxLeaves = I("max_leaves", 0),
            GrowPolicy = Params.TryGetValue("grow_policy", out var g) && g.GetString() == "lossguide" ? GrowPolicy.LeafWise : GrowPolicy.DepthWise,
            Lambda = D("reg_lambda", 1),
            Alpha = D("reg_alpha", 0),
            MinChildWeight = D("min_child_weight", 1),
            HuberSlope = D("huber_slope", 1),
            MaxCatToOneHot = I("max_cat_to_onehot", 4),
            EarlyStoppingRounds = EarlyStoppingRounds ?? 0,
            Threads = threads,
        };
    }

    public TabularData Read(string file) => CsvTableReader.ReadFile(Fixtures.Path(file),
        new CsvReadOptions { Label = Label, Categorical = Categorical });
}

public static class Fixtures
{
    public static string Path(string file) => System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", "trees", file);

    private static readonly Lazy<XGBoostCase[]> Cases = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path("xgboost_cases.json")));
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Deserialize<XGBoostCase>(options)!).ToArray();
    });

    public static XGBoostCase Case(string name) => Cases.Value.Single(c => c.Name == name);

    public static IEnumerable<object[]> CaseNames(Func<XGBoostCase, bool> filter) =>
        Cases.Value.Where(filter).Select(c => new object[] { c.Name });

    public static string Invariant(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
