namespace Tessera;

/// <summary>The flat buffer behind one or more tensors (views share it).</summary>
public abstract class TensorStorage
{
    public abstract DType DType { get; }
    public abstract int Length { get; }
    public abstract Array Array { get; }

    /// <summary>True when the buffer was rented from <see cref="TensorBufferPool"/> and goes back on release.</summary>
    internal bool Pooled { get; init; }

    internal abstract void ReturnToPool();

    public static TensorStorage Allocate(DType dtype, int length, bool clear = true) => dtype switch
    {
        DType.Float32 => TensorStorage<float>.Rent(length, clear),
        DType.Float64 => TensorStorage<double>.Rent(length, clear),
        DType.Int32 => TensorStorage<int>.Rent(length, clear),
        DType.Int64 => TensorStorage<long>.Rent(length, clear),
        DType.UInt8 => TensorStorage<byte>.Rent(length, clear),
        DType.Bool => TensorStorage<bool>.Rent(length, clear),
        DType.Float16 => TensorStorage<Half>.Rent(length, clear),
        DType.Int8 => TensorStorage<sbyte>.Rent(length, clear),
        DType.Int16 => TensorStorage<short>.Rent(length, clear),
        DType.UInt16 => TensorStorage<ushort>.Rent(length, clear),
        DType.UInt32 => TensorStorage<uint>.Rent(length, clear),
        DType.UInt64 => TensorStorage<ulong>.Rent(length, clear),
        DType.BFloat16 => TensorStorage<BFloat16>.Rent(length, clear),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}

/// <summary>Storage of elements of type <typeparamref name="T"/>.</summary>
public sealed class TensorStorage<T> : TensorStorage where T : unmanaged
{
    private static readonly DType s_dtype = DTypes.Of<T>();
    private T[]? _data;

    public TensorStorage(T[] data) => _data = data;

    /// <summary>The elements. Throws after the storage went back to the pool, so a stale view fails loudly.</summary>
    public T[] Data => _data ?? throw new ObjectDisposedException(nameof(TensorStorage<T>), "This tensor's buffer was released.");

    public override DType DType => s_dtype;
    public override int Length => Data.Length;
    public override Array Array => Data;

    internal static TensorStorage<T> Rent(int length, bool clear)
    {
        var data = TensorBufferPool.Rent<T>(length, out bool pooled);
        if (clear && pooled) System.Array.Clear(data);
        return new TensorStorage<T>(data) { Pooled = pooled };
    }

    internal override void ReturnToPool()
    {
        var data = Interlocked.Exchange(ref _data, null);
        if (data is not null && Pooled) TensorBufferPool.Return(data);
    }
}
