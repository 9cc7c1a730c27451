using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Http;

/// <summary>Reading bodies under the size limit and writing JSON errors, shared by the REST endpoints.</summary>
internal static class HttpIo
{
    /// <summary>
    /// A request body in a buffer rented from the shared pool: an image request is ~600 KB, which would otherwise
    /// be a fresh large-object-heap array per request (and gen-2 collections under load). Dispose returns it;
    /// nothing may hold <see cref="Memory"/> afterwards (binary input tensors are slices of it).
    /// </summary>
    public sealed class PooledBody(byte[]? rented, ReadOnlyMemory<byte> memory) : IDisposable
    {
        private byte[]? _rented = rented;
        public ReadOnlyMemory<byte> Memory { get; } = memory;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _rented, null) is { } r) ArrayPool<byte>.Shared.Return(r);
        }
    }

    /// <summary>Like <see cref="ReadBodyAsync"/>, into a pooled buffer when the length is declared.</summary>
    public static async Task<PooledBody> ReadPooledBodyAsync(HttpContext ctx, long limit)
    {
        if (ctx.Request.ContentLength is not long n || n > limit || n == 0)
            return new PooledBody(null, await ReadBodyAsync(ctx, limit));
        var rented = ArrayPool<byte>.Shared.Rent((int)n);
        try
        {
            await ReadExactlyAsync(ctx, rented.AsMemory(0, (int)n), limit);
            return new PooledBody(rented, rented.AsMemory(0, (int)n));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
    }

    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext ctx, long limit)
    {
        long? declared = ctx.Request.ContentLength;
        if (declared > limit)
            throw InferenceException.TooLarge($"request body of {declared} bytes is over the {limit}-byte limit");
        if (declared is long n)
        {
            var data = new byte[n];
            await ReadExactlyAsync(ctx, data, limit);
            return data;
        }
        try
        {
            var buffer = new ArrayBufferWriter<byte>(4096);
            while (true)
            {
                var span = buffer.GetMemory(16384);
                int k = await ctx.Request.Body.ReadAsync(span, ctx.RequestAborted);
                if (k == 0) break;
                buffer.Advance(k);
                if (buffer.WrittenCount > limit)
                    throw InferenceException.TooLarge($"request body is over the {limit}-byte limit");
            }
            return buffer.WrittenMemory;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            throw InferenceException.TooLarge($"request body is over the {limit}-byte limit");
        }
        catch (BadHttpRequestException e)
        {
            throw Unreadable(e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            throw InferenceException.Cancelled("the client closed the connection");
        }
    }

    private static async Task ReadExactlyAsync(HttpContext ctx, Memory<byte> data, long limit)
    {
        int read = 0;
        try
        {
            while (read < data.Length)
            {
                int k = await ctx.Request.Body.ReadAsync(data[read..], ctx.RequestAborted);
                if (k == 0) throw InferenceException.BadRequest($"request body ended after {read} of {data.Length} bytes");
                read += k;
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            throw InferenceException.TooLarge($"request body is over the {limit}-byte limit");
        }
        catch (BadHttpRequestException e)
        {
            throw Unreadable(e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            throw InferenceException.Cancelled("the client closed the connection");
        }
    }

    /// <summary>
    /// Kestrel's refusal of a body: "Unexpected end of request content" means the client closed the connection
    /// before sending Content-Length bytes (load generators do it to the requests in flight when they stop), which
    /// is a cancellation (499), not a server error; anything else (bad chunking) is a 400 with Kestrel's reason.
    /// </summary>
    private static InferenceException Unreadable(BadHttpRequestException e) =>
        e.Message.StartsWith("Unexpected end of request content", StringComparison.Ordinal)
            ? InferenceException.Cancelled($"the client closed the connection before sending the whole body ({e.Message})")
            : InferenceException.BadRequest($"the request body could not be read: {e.Message}");

    public static async Task WriteErrorAsync(HttpContext ctx, InferenceException e)
    {
        if (ctx.Response.HasStarted || ctx.RequestAborted.IsCancellationRequested) return;
        ctx.Response.StatusCode = e.StatusCode == 499 ? 400 : e.StatusCode;
        if (e.RetryAfter is { } r) ctx.Response.Headers.RetryAfter = ((int)Math.Ceiling(r.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await WriteJsonAsync(ctx, OipJson.Error(e.Message));
    }

    public static async Task WriteJsonAsync(HttpContext ctx, ReadOnlyMemory<byte> json)
    {
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = json.Length;
        try { await ctx.Response.Body.WriteAsync(json, ctx.RequestAborted); }
        catch (OperationCanceledException) { }
    }

    /// <summary>The body size limit can be raised per request; Kestrel's global one is the server's.</summary>
    public static void RaiseLimit(HttpContext ctx, long limit)
    {
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } f) f.MaxRequestBodySize = limit;
    }
}
