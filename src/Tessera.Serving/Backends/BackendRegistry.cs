using Microsoft.Extensions.Logging;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Backends;

/// <summary>
/// Picks the backend for a model version: the engine its config names, else the first registered factory that
/// handles it (the native engine comes first). When the native engine cannot run a model (an operator or
/// datatype it lacks) and the config did not insist on it, ONNX Runtime is tried and the reason is logged.
/// </summary>
public sealed class BackendRegistry(IEnumerable<IModelBackendFactory> factories, ILogger<BackendRegistry> logger)
{
    private readonly IModelBackendFactory[] _factories = [.. factories];

    public IReadOnlyList<IModelBackendFactory> Factories => _factories;

    public IModelBackend Load(ModelConfig config, string versionDirectory) => Load(config, versionDirectory, out _);

    /// <param name="config">The model's config.</param>
    /// <param name="versionDirectory">The version directory holding its files.</param>
    /// <param name="fallbackNote">Why earlier engines were passed over, when one was (shown as part of the model's state reason).</param>
    public IModelBackend Load(ModelConfig config, string versionDirectory, out string? fallbackNote)
    {
        fallbackNote = null;
        string engine = config.Engine;
        if (engine.Length > 0)
        {
            var chosen = _factories.FirstOrDefault(f => f.Engine == engine)
                ?? throw new InvalidOperationException($"unknown engine '{engine}'; this server has {string.Join(", ", _factories.Select(f => f.Engine))}");
            return chosen.Load(config, versionDirectory);
        }
        var candidates = _factories.Where(f => f.Handles(config, versionDirectory)).ToList();
        if (candidates.Count == 0)
            throw new InvalidOperationException($"no backend handles platform '{config.Platform}' / backend '{config.Backend}' with the files in {Path.GetFileName(versionDirectory)}/");
        var errors = new List<string>();
        foreach (var f in candidates)
        {
            try
            {
                var backend = f.Load(config, versionDirectory);
                if (errors.Count > 0) fallbackNote = string.Join("; ", errors);
                return backend;
            }
            catch (Exception e)
            {
                errors.Add($"{f.Engine}: {e.Message}");
                if (f != candidates[^1])
                    logger.LogWarning("Model {Model}: engine {Engine} cannot load it ({Reason}); trying the next engine", config.Name, f.Engine, e.Message);
            }
        }
        throw new InvalidOperationException(string.Join("; ", errors));
    }
}
