namespace Tessera.Onnx;

/// <summary>A file or stream that is not a well-formed ONNX model or tensor (truncated, corrupted, or something else).</summary>
public sealed class OnnxFormatException : Exception
{
    public OnnxFormatException(string message) : base(message) { }
    public OnnxFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A well-formed model that uses something Tessera cannot run: an operator, an opset, a dtype or a value kind.</summary>
public sealed class OnnxUnsupportedException(string message) : NotSupportedException(message)
{
    /// <summary>The operator type, when an operator is what is missing.</summary>
    public string? OpType { get; init; }
}
