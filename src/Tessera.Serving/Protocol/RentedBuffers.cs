using System.Buffers;

namespace Tessera.Serving.Protocol;

/// <summary>
/// Arrays a request's decoded tensors live in, rented from the shared pool: a JSON image decodes to 600 KB, which
/// would otherwise be a fresh large-object-heap array per request (gen-2 collections under load), as the binary
/// path's pooled body already avoids. Dispose returns them; nothing may hold the tensors' data afterwards. One
/// request's, used by one thread at a time (not thread-safe).
/// </summary>
public sealed class RentedBuffers : IDisposable
{
    private readonly List<byte[]> _arrays = [];

    /// <summary>An array of at least <paramref name="length"/> bytes, returned to the pool on dispose.</summary>
    public byte[] Rent(int length)
    {
        var a = ArrayPool<byte>.Shared.Rent(length);
        _arrays.Add(a);
        return a;
    }

    /// <summary>Gives back one array early (a buffer that grew into a bigger one).</summary>
    public void Return(byte[] array)
    {
        if (_arrays.Remove(array)) ArrayPool<byte>.Shared.Return(array);
    }

    public void Dispose()
    {
        foreach (var a in _arrays) ArrayPool<byte>.Shared.Return(a);
        _arrays.Clear();
    }
}
