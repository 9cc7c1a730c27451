using System.CommandLine;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera bench ...</c>: micro-benchmarks whose JSON output can be set beside a peer's.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Run a micro-benchmark.");
        return bench;
    }
}
