namespace Tessera.Serving.Protocol;

/// <summary>An output the client asked for, and whether it wants it in binary form.</summary>
public sealed record RequestedOutput(string Name, bool Binary);

/// <summary>One inference request, decoded from any wire form.</summary>
public sealed class InferRequest
{
    public required string ModelName { get; init; }
    public string? ModelVersion { get; init; }
    public string? Id { get; init; }
    public required IReadOnlyList<InferTensor> Inputs { get; init; }

    /// <summary>Outputs to return; null means all of them.</summary>
    public IReadOnlyList<RequestedOutput>? Outputs { get; init; }

    /// <summary>The request-level <c>binary_data_output</c> parameter: every output in binary form.</summary>
    public bool BinaryOutputs { get; init; }

    /// <summary>Triton's <c>timeout</c> parameter (microseconds), if given.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>The result of one request, with the timings the server measured for it.</summary>
public sealed class InferResponse
{
    public required string ModelName { get; init; }
    public required string ModelVersion { get; init; }
    public string? Id { get; init; }
    public required IReadOnlyList<InferTensor> Outputs { get; init; }
}
