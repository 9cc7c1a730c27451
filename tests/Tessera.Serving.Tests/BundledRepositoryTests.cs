using System.Net;

namespace Tessera.Serving.Tests;

/// <summary>The repository <c>./run.sh</c> serves (models/): every model loads and the tree model answers real rows.</summary>
public sealed class BundledRepositoryTests
{
    /// <summary>models/ as copied next to the test assembly.</summary>
    public static string Bundled => Path.Combine(AppContext.BaseDirectory, "bundled-models");

    [Fact]
    public async Task Every_bundled_model_loads_and_the_breast_cancer_trees_classify_real_rows()
    {
        await using var s = await TestServer.StartAsync(prepare: repo =>
        {
            Directory.Delete(repo, true);
            TestServer.CopyDirectory(Bundled, repo);
        });
        // Rows 1 and 20 of sklearn's breast_cancer.csv: a malignant and a benign tumour.
        const string rows = """
            [[17.99,10.38,122.8,1001,0.1184,0.2776,0.3001,0.1471,0.2419,0.07871,1.095,0.9053,8.589,153.4,0.006399,0.04904,0.05373,0.01587,0.03003,0.006193,25.38,17.33,184.6,2019,0.1622,0.6656,0.7119,0.2654,0.4601,0.1189],
             [13.54,14.36,87.46,566.3,0.09779,0.08129,0.06664,0.04781,0.1885,0.05766,0.2699,0.7886,2.058,23.56,0.008462,0.0146,0.02387,0.01315,0.0198,0.0023,15.11,19.26,99.7,711.2,0.144,0.1773,0.239,0.1288,0.2977,0.07259]]
            """;
        var (status, body) = await s.PostJsonAsync("infer", """{"model":"breast-cancer","inputs":{"input":""" + rows + "}}");
        Assert.Equal(HttpStatusCode.OK, status);
        var outputs = body.GetProperty("outputs");
        Assert.Equal([1L, 0L], outputs.GetProperty("label").EnumerateArray().Select(e => e.GetInt64()));
        var p = outputs.GetProperty("probabilities").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
        Assert.All(p, row => Assert.Equal(1.0, row.Sum(), 5));
        Assert.True(p[0][1] > 0.5 && p[1][0] > 0.5, $"probabilities {p[0][0]}/{p[0][1]}, {p[1][0]}/{p[1][1]}");

        foreach (var model in new[] { "simple", "fashion-mnist" })
            Assert.Equal(HttpStatusCode.OK, (await s.PostJsonAsync($"v2/repository/models/{model}/load", "{}")).Status);
        var (indexStatus, index) = await s.PostJsonAsync("v2/repository/index", "{}");
        Assert.Equal(HttpStatusCode.OK, indexStatus);
        var states = index.EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("state").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["breast-cancer"] = "READY", ["fashion-mnist"] = "READY", ["simple"] = "READY" }, states);
        var tree = index.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "breast-cancer");
        Assert.Equal("tessera_trees", tree.GetProperty("engine").GetString());
        Assert.True(tree.GetProperty("memory_bytes").GetInt64() > 0);

        var (dashboard, summary) = await s.GetJsonAsync("api/dashboard");
        Assert.Equal(HttpStatusCode.OK, dashboard);
        Assert.Contains("breast-cancer", summary.ToString());
    }
}
