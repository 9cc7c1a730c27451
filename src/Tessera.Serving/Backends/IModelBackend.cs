using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Backends;

/// <summary>An input or output of a loaded model; -1 marks a dimension fixed only at run time (the batch dimension included).</summary>
public sealed record TensorSpec(string Name, DataType DataType, long[] Shape);

/// <summary>
/// One loaded model version as the server sees it: metadata, a memory estimate and inference over named tensors.
/// The server knows nothing else about the engine behind it. Implementations must allow concurrent
/// <see cref="Infer"/> calls (the scheduler bounds how many run at once).
/// </summary>
public interface IModelBackend : IDisposable
{
    /// <summary>The engine that runs it, as shown to users: <c>tessera</c>, <c>onnxruntime</c> ...</summary>
    string Engine { get; }
    IReadOnlyList<TensorSpec> Inputs { get; }
    IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Bytes this model holds while loaded; the cache budgets with it.</summary>
    long MemoryBytes { get; }

    /// <summary>
    /// Runs a (possibly batched) request. Inputs are validated against <see cref="Inputs"/> by the server first.
    /// Returns the outputs named in <paramref name="outputs"/> (all when null).
    /// </summary>
    IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs);
}

/// <summary>
/// Loads one kind of model. New model kinds (boosted trees, text pipelines, Tessera checkpoints) plug in by
/// implementing this and registering it with <see cref="BackendRegistry"/>; the repository, cache, batcher and
/// protocols need no change.
/// </summary>
public interface IModelBackendFactory
{
    /// <summary>The engine name a config asks for (<c>parameters { key: "engine" ... }</c> or <c>backend:</c>).</summary>
    string Engine { get; }

    /// <summary>Whether this factory reads this model (platform/backend and the files in the version directory).</summary>
    bool Handles(ModelConfig config, string versionDirectory);

    IModelBackend Load(ModelConfig config, string versionDirectory);
}
