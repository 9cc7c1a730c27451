// Core-engine micro-benchmarks. Each prints a JSON array so bench/core.sh can set it beside numpy's figures.
//   dotnet run -c Release --project bench/Tessera.Bench -- elementwise | executor | pool
using Tessera.Bench;

return args.FirstOrDefault() switch
{
    "elementwise" => ElementwiseBenchmark.Run(),
    "executor" => ExecutorBenchmark.Run(),
    "pool" => BufferPoolBenchmark.Run(),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tessera.Bench elementwise | executor | pool");
    return 2;
}
