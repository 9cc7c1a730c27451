using System.Collections.Concurrent;

namespace Tessera;

/// <summary>
/// Reuses tensor buffers by exact element count. Training loops allocate the same shapes every step, so exact-size
/// buckets hit almost always and never hand out oversized arrays (a tensor's storage length is its element count).
/// Bounded: at most <see cref="MaxBuffersPerSize"/> buffers per size and <see cref="MaxPooledBytes"/> in all.
/// </summary>
public static class TensorBufferPool
{
    /// <summary>Turn pooling off to compare (the benchmark does); rented buffers are then plain allocations.</summary>
    public static bool Enabled { get; set; } = true;

    public static int MaxBuffersPerSize { get; set; } = 16;
    public static long MaxPooledBytes { get; set; } = 512L * 1024 * 1024;

    private static long s_pooledBytes;
    private static long s_hits, s_misses;

    public static long PooledBytes => Interlocked.Read(ref s_pooledBytes);
    public static long Hits => Interlocked.Read(ref s_hits);
    public static long Misses => Interlocked.Read(ref s_misses);

    // Buffers smaller than this are cheap to allocate and not worth a dictionary lookup.
    private const int MinPooledLength = 64;

    private static class Buckets<T> where T : unmanaged
    {
        public static readonly ConcurrentDictionary<int, ConcurrentBag<T[]>> BySize = new();
    }

    internal static T[] Rent<T>(int length, out bool pooled) where T : unmanaged
    {
        pooled = Enabled && length >= MinPooledLength;
        if (!pooled) return length == 0 ? [] : GC.AllocateUninitializedArray<T>(length);
        if (Buckets<T>.BySize.TryGetValue(length, out var bag) && bag.TryTake(out var array))
        {
            Interlocked.Add(ref s_pooledBytes, -(long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
            Interlocked.Increment(ref s_hits);
            return array;
        }
        Interlocked.Increment(ref s_misses);
        return GC.AllocateUninitializedArray<T>(length);
    }

    internal static void Return<T>(T[] array) where T : unmanaged
    {
        long bytes = (long)array.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (!Enabled || Interlocked.Read(ref s_pooledBytes) + bytes > MaxPooledBytes) return;
        var bag = Buckets<T>.BySize.GetOrAdd(array.Length, _ => new ConcurrentBag<T[]>());
        if (bag.Count >= MaxBuffersPerSize) return;
        bag.Add(array);
        Interlocked.Add(ref s_pooledBytes, bytes);
    }

    /// <summary>Drops every pooled buffer (for tests and memory pressure).</summary>
    public static void Clear()
    {
        Buckets<float>.BySize.Clear();
        Buckets<double>.BySize.Clear();
        Buckets<int>.BySize.Clear();
        Buckets<long>.BySize.Clear();
        Buckets<byte>.BySize.Clear();
        Buckets<bool>.BySize.Clear();
        Buckets<Half>.BySize.Clear();
        Interlocked.Exchange(ref s_pooledBytes, 0);
    }
}
