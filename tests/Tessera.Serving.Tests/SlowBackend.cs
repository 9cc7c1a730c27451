using Tessera.Serving.Backends;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Tests;

/// <summary>
/// A test engine ("slow"): ONNX Runtime behind deliberate delays on load and on each run, counting what it ran,
/// so tests can see single flight, queueing, timeouts and draining happen.
/// </summary>
public sealed class SlowBackendFactory : IModelBackendFactory
{
    public TimeSpan LoadDelay { get; set; } = TimeSpan.FromMilliseconds(300);
    public TimeSpan RunDelay { get; set; } = TimeSpan.FromMilliseconds(200);
    public int Loads;
    public int Runs;
    public int Rows;
    public string Engine => "slow";
    public bool Handles(ModelConfig config, string versionDirectory) => false;

    public IModelBackend Load(ModelConfig config, string versionDirectory)
    {
        Interlocked.Increment(ref Loads);
        Thread.Sleep(LoadDelay);
        return new Slow(new OnnxRuntimeBackendFactory().Load(config, versionDirectory), this);
    }

    private sealed class Slow(IModelBackend inner, SlowBackendFactory f) : IModelBackend
    {
        public string Engine => "slow";
        public IReadOnlyList<TensorSpec> Inputs => inner.Inputs;
        public IReadOnlyList<TensorSpec> Outputs => inner.Outputs;
        public long MemoryBytes => inner.MemoryBytes;

        public IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
        {
            Interlocked.Increment(ref f.Runs);
            Interlocked.Add(ref f.Rows, (int)inputs[0].Shape[0]);
            Thread.Sleep(f.RunDelay);
            return inner.Infer(inputs, outputs);
        }

        public void Dispose() => inner.Dispose();
    }

    public const string ConfigParameter = """
        parameters { key: "engine" value: { string_value: "slow" } }
        """;
}
