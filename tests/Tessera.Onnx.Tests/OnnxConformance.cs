using System.Collections.Concurrent;
using System.Text;
using Tessera.Onnx;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx.Tests;

/// <summary>Outcome of one ONNX backend test case.</summary>
public enum CaseStatus { Pass, Fail, Unsupported }

public sealed record CaseResult(string Suite, string Case, CaseStatus Status, string Detail, string[] Ops);

/// <summary>
/// Runs the ONNX backend test data (model.onnx + test_data_set_*/input_*.pb, output_*.pb) on the native engine.
/// A case passes only when every output of every data set matches within the backend tests' tolerance
/// (|actual − expected| ≤ atol + rtol·|expected|, rtol 1e-3, atol 1e-7; NaN matches NaN).
/// </summary>
public static class OnnxConformance
{
    public const string DataRoot = "/usr/share/libonnx-testdata/data";
    public static readonly string[] Suites = ["node", "simple", "pytorch-converted", "pytorch-operator"];
    public const double RTol = 1e-3, ATol = 1e-7;

    public static List<CaseResult> RunAll(TimeSpan perCase)
    {
        var results = new ConcurrentBag<CaseResult>();
        var cases = Suites.SelectMany(s => Directory.Exists(Path.Combine(DataRoot, s))
            ? Directory.GetDirectories(Path.Combine(DataRoot, s)).Select(d => (s, d)) : []).ToList();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, item =>
        {
            var (suite, dir) = item;
            var task = Task.Run(() => RunCase(suite, dir));
            results.Add(task.Wait(perCase) ? task.Result
                : new CaseResult(suite, Path.GetFileName(dir), CaseStatus.Fail, $"timed out after {perCase.TotalSeconds} s", OpsOf(dir)));
        });
        return [.. results.OrderBy(r => Array.IndexOf(Suites, r.Suite)).ThenBy(r => r.Case, StringComparer.Ordinal)];
    }

    private static string[] OpsOf(string dir)
    {
        try { return [.. ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx"))).Graph.Node.Select(n => n.OpType).Distinct().Order()]; }
        catch (Exception) { return []; }
    }

    public static CaseResult RunCase(string suite, string dir)
    {
        string name = Path.GetFileName(dir);
        var ops = OpsOf(dir);
        CaseResult Result(CaseStatus s, string detail) => new(suite, name, s, detail.ReplaceLineEndings(" "), ops);
        OnnxModel model;
        try { model = OnnxModel.Load(Path.Combine(dir, "model.onnx")); }
        catch (OnnxUnsupportedException e) { return Result(CaseStatus.Unsupported, e.Message); }
        catch (Exception e) { return Result(CaseStatus.Fail, $"load: {e.GetType().Name}: {e.Message}"); }
        using (model)
        {
            var sets = Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal).ToArray();
            if (sets.Length == 0) return Result(CaseStatus.Fail, "no test data sets");
            foreach (var set in sets)
            {
                var inputs = new Dictionary<string, object>();
                var expected = new List<object>();
                try
                {
                    for (int i = 0; File.Exists(Path.Combine(set, $"input_{i}.pb")); i++)
                    {
                        if (i >= model.Inputs.Count) return Result(CaseStatus.Fail, $"test data has more inputs than the model's {model.Inputs.Count}");
                        inputs[model.Inputs[i].Name] = Read(Path.Combine(set, $"input_{i}.pb"), model.Inputs[i]);
                    }
                    for (int i = 0; File.Exists(Path.Combine(set, $"output_{i}.pb")); i++)
                        expected.Add(i < model.Outputs.Count ? Read(Path.Combine(set, $"output_{i}.pb"), model.Outputs[i]) : OnnxTensors.ReadFile(Path.Combine(set, $"output_{i}.pb")));
                }
                catch (OnnxUnsupportedException e) { return Result(CaseStatus.Unsupported, "test data: " + e.Message); }
                catch (OnnxFormatException e) { return Result(CaseStatus.Unsupported, "test data is not a tensor (sequence/optional?): " + e.Message); }

                Dictionary<string, object> actual;
                try { actual = model.RunValues(inputs); }
                catch (OnnxUnsupportedException e) { return Result(CaseStatus.Unsupported, e.Message); }
                catch (NotSupportedException e) { return Result(CaseStatus.Unsupported, "run: " + e.Message); }
                catch (Exception e) { return Result(CaseStatus.Fail, $"run: {e.GetType().Name}: {e.Message}"); }
                for (int i = 0; i < expected.Count; i++)
                {
                    var why = Compare(actual[model.Outputs[i].Name], expected[i]);
                    if (why is not null) return Result(CaseStatus.Fail, $"{Path.GetFileName(set)} output {i} ('{model.Outputs[i].Name}'): {why}");
                }
            }
        }
        return Result(CaseStatus.Pass, "");
    }

    /// <summary>An input or output file read as the model declares it: a tensor, or a sequence/optional (SequenceProto, OptionalProto).</summary>
    private static object Read(string path, TensorInfo info) => info.Kind == Graphs.ValueKind.Tensor
        ? AsDeclared(OnnxTensors.ReadFile(path), info.DType)
        : OnnxTensors.ReadValueFile(path, info.Kind, info.DType);

    /// <summary>Null when the values match (tensors within tolerance, sequences element by element, optionals by presence and content).</summary>
    public static string? Compare(object actual, object expected) => (actual, expected) switch
    {
        (Tensor a, Tensor e) => Compare(a, e),
        (Graphs.TensorSequence a, Graphs.TensorSequence e) => a.Count != e.Count ? $"sequence of {a.Count} tensors, expected {e.Count}"
            : Enumerable.Range(0, e.Count).Select(i => Compare(a[i], e[i]) is { } why ? $"sequence element {i}: {why}" : null).FirstOrDefault(w => w is not null),
        (Graphs.OptionalValue a, Graphs.OptionalValue e) => a.HasElement != e.HasElement ? $"optional {(a.HasElement ? "holds a value" : "is empty")}, expected {(e.HasElement ? "a value" : "empty")}"
            : a.HasElement ? Compare(a.Element!, e.Element!) : null,
        _ => $"{Graphs.ValueOperation.Describe(actual)}, expected {Graphs.ValueOperation.Describe(expected)}",
    };

    /// <summary>
    /// ONNX 1.12 wrote its bfloat16 test tensors (the Cast/CastLike cases) with data_type UINT16 holding the bfloat16
    /// bit patterns. Where the model declares bfloat16 and the file says uint16, read the same bits as bfloat16;
    /// every other dtype disagreement is left for the run to report.
    /// </summary>
    private static Tensor AsDeclared(Tensor t, DType? declared)
    {
        if (declared != DType.BFloat16 || t.DType != DType.UInt16) return t;
        var bits = t.ToArray<ushort>();
        return Tensor.FromArray([.. bits.Select(BFloat16.FromBits)], t.ShapeArray());
    }

    /// <summary>Null when the tensors match within tolerance, else a one-line reason.</summary>
    public static string? Compare(Tensor actual, Tensor expected)
    {
        if (actual.DType != expected.DType) return $"dtype {actual.DType.Name()}, expected {expected.DType.Name()}";
        if (!actual.Shape.SequenceEqual(expected.Shape)) return $"shape {actual.ShapeString}, expected {expected.ShapeString}";
        bool exact = !expected.DType.IsFloatingPoint();
        for (int i = 0; i < expected.Length; i++)
        {
            double a = actual.GetDouble(i), e = expected.GetDouble(i);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (a == e) continue;
            if (exact || double.IsInfinity(e) || Math.Abs(a - e) > ATol + RTol * Math.Abs(e))
                return $"element {i} is {a:G9}, expected {e:G9}";
        }
        return null;
    }

    /// <summary>docs/onnx-conformance.md: totals per suite, pass counts per operator, and every case with its status.</summary>
    public static string Report(List<CaseResult> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# ONNX backend conformance (native engine)");
        sb.AppendLine();
        sb.AppendLine("Generated by `tests/Tessera.Onnx.Tests` (`OnnxConformanceTests`) from Debian's libonnx-testdata (ONNX 1.12 backend test data,");
        sb.AppendLine($"`{DataRoot}`). A case passes only if every output of every data set matches within rtol {RTol:G}, atol {ATol:G}");
        sb.AppendLine("(the ONNX backend-test tolerance); *unsupported* means the model uses an operator, attribute or dtype the importer");
        sb.AppendLine("rejects with an `OnnxUnsupportedException` at load; *fail* is a wrong answer or an error while running.");
        sb.AppendLine("For scale: ONNX Runtime 1.30 passes 854 of the 932 node cases (952 of 1 030 runnable overall).");
        sb.AppendLine();
        sb.AppendLine("| Suite | Pass | Fail | Unsupported | Total |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var g in results.GroupBy(r => r.Suite))
            sb.AppendLine($"| {g.Key} | {g.Count(r => r.Status == CaseStatus.Pass)} | {g.Count(r => r.Status == CaseStatus.Fail)} | {g.Count(r => r.Status == CaseStatus.Unsupported)} | {g.Count()} |");
        sb.AppendLine($"| **all** | **{results.Count(r => r.Status == CaseStatus.Pass)}** | {results.Count(r => r.Status == CaseStatus.Fail)} | {results.Count(r => r.Status == CaseStatus.Unsupported)} | {results.Count} |");
        sb.AppendLine();
        sb.AppendLine("## Per operator (node suite: cases whose model uses the operator)");
        sb.AppendLine();
        sb.AppendLine("| Operator | Pass | Fail | Unsupported |");
        sb.AppendLine("|---|---:|---:|---:|");
        var node = results.Where(r => r.Suite == "node").ToList();
        foreach (var op in node.SelectMany(r => r.Ops).Distinct().Order(StringComparer.Ordinal))
        {
            var rs = node.Where(r => r.Ops.Contains(op)).ToList();
            sb.AppendLine($"| {op} | {rs.Count(r => r.Status == CaseStatus.Pass)} | {rs.Count(r => r.Status == CaseStatus.Fail)} | {rs.Count(r => r.Status == CaseStatus.Unsupported)} |");
        }
        sb.AppendLine();
        sb.AppendLine("## Cases");
        foreach (var g in results.GroupBy(r => r.Suite))
        {
            sb.AppendLine();
            sb.AppendLine($"### {g.Key}");
            sb.AppendLine();
            sb.AppendLine("| Case | Status | Detail |");
            sb.AppendLine("|---|---|---|");
            foreach (var r in g)
            {
                var detail = r.Detail.Length > 160 ? r.Detail[..160] + "…" : r.Detail;
                sb.AppendLine($"| {r.Case} | {r.Status.ToString().ToLowerInvariant()} | {detail.Replace("|", "\\|")} |");
            }
        }
        return sb.ToString();
    }
}
