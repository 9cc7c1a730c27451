namespace Tessera.Onnx.Tests;

public class OnnxConformanceTests
{
    /// <summary>Committed floors: the suite fails if a change makes fewer cases pass.</summary>
    private const int NodeFloor = 906, TotalFloor = 1040;

    [Fact]
    public void Backend_test_data_pass_count_does_not_drop_below_the_floor()
    {
        Assert.True(Directory.Exists(OnnxConformance.DataRoot),
            $"{OnnxConformance.DataRoot} is missing: install Debian's libonnx-testdata (./test.sh does).");
        var results = OnnxConformance.RunAll(TimeSpan.FromSeconds(30));
        var report = OnnxConformance.Report(results);
        var root = RepoRoot();
        if (root is not null) File.WriteAllText(Path.Combine(root, "docs", "onnx-conformance.md"), report);

        int node = results.Count(r => r.Suite == "node" && r.Status == CaseStatus.Pass);
        int total = results.Count(r => r.Status == CaseStatus.Pass);
        Assert.True(node >= NodeFloor, $"node suite: {node} cases pass, below the floor of {NodeFloor}.");
        Assert.True(total >= TotalFloor, $"all suites: {total} cases pass, below the floor of {TotalFloor}.");
    }

    internal static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Tessera.slnx"))) return d.FullName;
        return null;
    }
}
