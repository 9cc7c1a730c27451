using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Http;

/// <summary>Reading bodies under the size limit and writing JSON errors, shared by the REST endpoints.</summary>
internal static class HttpIo
{
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext ctx, long limit)
    {
        long? declared = ctx.Request.ContentLength;
        if (declared > limit)
            throw InferenceException.TooLarge($"request body of {declared} bytes is over the {limit}-byte limit");
        try
        {
            if (declared is long n)
            {
                var data = new byte[n];
                int read = 0;
                while (read < n)
                {
                    int k = await ctx.Request.Body.ReadAsync(data.AsMemory(read), ctx.RequestAborted);
                    if (k == 0) throw InferenceException.BadRequest($"request body ended after {read} of {n} bytes");
                    read += k;
                }
                return data;
            }
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
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            throw InferenceException.Cancelled("the client closed the connection");
        }
    }

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
