using System.CommandLine;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench ...</c>: micro-benchmarks whose JSON output can be set beside a peer's.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Run a micro-benchmark.");
        bench.Subcommands.Add(CreateGemm());
        return bench;
    }

    private static Command CreateGemm()
    {
        var sizes = new Option<string>("--sizes")
        {
            Description = "Comma-separated square sizes (m = n = k), e.g. 256,1024,2048.",
        };
        var shapes = new Option<string>("--shapes")
        {
            Description = "Comma-separated MxNxK shapes, e.g. 64x784x256,256x784x256.",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Worker threads (GemmKernel.MaxThreads); default: processor count.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var dtype = new Option<string>("--dtype")
        {
            Description = "float32 (SGEMM) or float64 (DGEMM).",
            DefaultValueFactory = _ => "float32",
        };
        dtype.AcceptOnlyFromAmong("float32", "float64");
        var trans = new Option<string>("--trans")
        {
            Description = "op(A)op(B): NN (default), NT (B stored n×k), TN (A stored k×m) or TT.",
            DefaultValueFactory = _ => "NN",
        };
        trans.AcceptOnlyFromAmong("NN", "NT", "TN", "TT");
        var reps = new Option<int>("--reps")
        {
            Description = "Timed repetitions per problem (0 = as many as fit in --seconds, at least 5).",
            DefaultValueFactory = _ => 0,
        };
        var seconds = new Option<double>("--seconds")
        {
            Description = "Approximate timed duration per problem when --reps is 0.",
            DefaultValueFactory = _ => 1.0,
        };
        var json = new Option<bool>("--json") { Description = "Print a JSON array instead of a table." };

        var gemm = new Command("gemm", "Time C = op(A)·op(B) through GemmKernel (median of repetitions, GFLOP/s).");
        foreach (var o in new Option[] { sizes, shapes, threads, dtype, trans, reps, seconds, json })
            gemm.Options.Add(o);

        gemm.SetAction(parseResult =>
        {
            string? sz = parseResult.GetValue(sizes), sh = parseResult.GetValue(shapes);
            if (string.IsNullOrWhiteSpace(sz) && string.IsNullOrWhiteSpace(sh)) sz = "256,1024,2048";
            List<(string Name, int? Size, int M, int N, int K)> problems;
            try
            {
                problems = GemmBenchmark.ParseProblems(sz, sh);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
            int t = Math.Max(1, parseResult.GetValue(threads));
            string type = parseResult.GetValue(dtype) ?? "float32";
            var results = new List<GemmBenchResult>();
            foreach (var p in problems)
            {
                var r = GemmBenchmark.Run(p.Name, p.Size, p.M, p.N, p.K, t, type, parseResult.GetValue(trans) ?? "NN",
                    parseResult.GetValue(reps), parseResult.GetValue(seconds));
                results.Add(r);
                if (!parseResult.GetValue(json))
                    Console.Error.WriteLine($"  {p.Name}: {r.Gflops:F1} GFLOP/s");
            }
            Console.WriteLine(parseResult.GetValue(json) ? GemmBenchmark.ToJson(results) : GemmBenchmark.ToTable(results));
            return 0;
        });
        return gemm;
    }
}
