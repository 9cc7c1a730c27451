namespace Tessera.Serving.Protocol;

/// <summary>
/// A request the server refuses, with the HTTP status Triton answers for it; the gRPC service maps the same
/// status to a gRPC code. The message goes to the client as <c>{"error": "..."}</c>.
/// </summary>
public sealed class InferenceException(int statusCode, string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    /// <summary>Set for 429: how long a client should wait before retrying.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static InferenceException BadRequest(string message) => new(400, message);
    public static InferenceException NotFound(string message) => new(404, message);
    public static InferenceException TooLarge(string message) => new(413, message);
    public static InferenceException Unavailable(string message) => new(503, message);
    public static InferenceException QueueFull(string message, TimeSpan retryAfter) => new(429, message, retryAfter);
    public static InferenceException Timeout(string message) => new(504, message);

    /// <summary>Not an HTTP status a client sees (it has gone); nginx's convention for "client closed request".</summary>
    public static InferenceException Cancelled(string message) => new(499, message);
}
