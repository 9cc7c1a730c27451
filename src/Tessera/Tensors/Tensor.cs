using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tessera;

/// <summary>
/// An n-dimensional array: a <see cref="TensorStorage"/> seen through a shape, strides and an offset.
/// Reshape, permute, slice and expand return views that share storage; <see cref="Contiguous"/> materializes.
/// </summary>
/// <example><code>
/// var t = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
/// var col = t.Slice(1, 1, 2);          // view of shape (2, 1)
/// var tt = t.Transpose();              // view of shape (3, 2)
/// </code></example>
public sealed partial class Tensor : IDisposable
{
    internal readonly int[] _shape;
    internal readonly int[] _strides;
    internal readonly int _offset;
    private readonly bool _ownsStorage;

    public TensorStorage Storage { get; }
    public DType DType => Storage.DType;
    public int Rank => _shape.Length;
    /// <summary>Number of elements.</summary>
    public int Length { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<int> Strides => _strides;
    public int Offset => _offset;
    public bool IsContiguous { get; }

    internal Tensor(TensorStorage storage, int[] shape, int[] strides, int offset, bool ownsStorage)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        _offset = offset;
        _ownsStorage = ownsStorage;
        Length = ShapeMath.Count(shape);
        // An empty tensor has no elements out of place, whatever its strides say.
        IsContiguous = Length == 0 || ComputeContiguous(shape, strides);
    }

    private static bool ComputeContiguous(int[] shape, int[] strides)
    {
        int expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public int Dim(int axis) => _shape[ShapeMath.NormalizeAxis(axis, Rank, "Dim")];
    public int[] ShapeArray() => (int[])_shape.Clone();
    public string ShapeString => ShapeMath.Format(_shape);

    // ---- creation -------------------------------------------------------------------------------------------

    /// <summary>Wraps <paramref name="data"/> (no copy) as a contiguous tensor of the given shape.</summary>
    public static Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        int count = ShapeMath.Count(shape);
        if (count != data.Length)
            throw new ArgumentException($"FromArray: {data.Length} elements do not fill shape {ShapeMath.Format(shape)} ({count} elements).");
        return new Tensor(new TensorStorage<T>(data), (int[])shape.Clone(), ShapeMath.RowMajorStrides(shape), 0, false);
    }

    /// <summary>A rank-0 tensor holding one value.</summary>
    public static Tensor Scalar<T>(T value) where T : unmanaged =>
        new(new TensorStorage<T>([value]), [], [], 0, false);

    /// <summary>A rank-0 tensor of the given dtype holding <paramref name="value"/> converted.</summary>
    public static Tensor Scalar(double value, DType dtype)
    {
        var t = Empty(dtype);
        t.SetDouble(0, value);
        return t;
    }

    /// <summary>A contiguous tensor whose contents are unspecified (its buffer may come from the pool).</summary>
    public static Tensor Empty(DType dtype, params int[] shape) =>
        new(TensorStorage.Allocate(dtype, ShapeMath.Count(shape), clear: false), (int[])shape.Clone(), ShapeMath.RowMajorStrides(shape), 0, true);

    public static Tensor Zeros(DType dtype, params int[] shape) =>
        new(TensorStorage.Allocate(dtype, ShapeMath.Count(shape), clear: true), (int[])shape.Clone(), ShapeMath.RowMajorStrides(shape), 0, true);

    public static Tensor Full(double value, DType dtype, params int[] shape)
    {
        var t = Empty(dtype, shape);
        t.Fill(value);
        return t;
    }

    public static Tensor Ones(DType dtype, params int[] shape) => Full(1, dtype, shape);

    /// <summary>0, 1, ..., n-1.</summary>
    public static Tensor Arange(int n, DType dtype = DType.Int64)
    {
        var t = Empty(dtype, n);
        for (int i = 0; i < n; i++) t.SetDouble(i, i);
        return t;
    }

    /// <summary>Samples from N(mean, std²) with a seeded generator (Box–Muller), for reproducible initialization.</summary>
    public static Tensor RandomNormal(int seed, DType dtype, double mean, double std, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Empty(dtype, shape);
        for (int i = 0; i < t.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            t.SetDouble(i, mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return t;
    }

    /// <summary>Samples uniformly from [low, high) with a seeded generator.</summary>
    public static Tensor RandomUniform(int seed, DType dtype, double low, double high, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Empty(dtype, shape);
        for (int i = 0; i < t.Length; i++) t.SetDouble(i, low + (high - low) * rng.NextDouble());
        return t;
    }

    // ---- element access -------------------------------------------------------------------------------------

    /// <summary>The elements of a contiguous tensor, in row-major order, without copying.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (Storage is not TensorStorage<T> s)
            throw new DTypeMismatchException("AsSpan", $"tensor has dtype {DType.Name()}, asked for {typeof(T).Name}");
        if (!IsContiguous)
            throw new InvalidOperationException($"AsSpan: tensor of shape {ShapeString} is a non-contiguous view; call Contiguous() first.");
        return s.Data.AsSpan(_offset, Length);
    }

    /// <summary>The backing array of a tensor of element type <typeparamref name="T"/> (for kernels).</summary>
    internal T[] Data<T>() where T : unmanaged => ((TensorStorage<T>)Storage).Data;

    /// <summary>Storage offset of the element at a row-major logical position.</summary>
    internal int OffsetOfLogical(int logical)
    {
        if (IsContiguous) return _offset + logical;
        int off = _offset;
        for (int d = Rank - 1; d >= 0; d--)
        {
            int size = _shape[d];
            off += (logical % size) * _strides[d];
            logical /= size;
        }
        return off;
    }

    private int OffsetOf(ReadOnlySpan<int> index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"Index of rank {index.Length} for a tensor of shape {ShapeString}.");
        int off = _offset;
        for (int d = 0; d < index.Length; d++)
        {
            if ((uint)index[d] >= (uint)_shape[d])
                throw new IndexOutOfRangeException($"Index {index[d]} is out of range for axis {d} of shape {ShapeString}.");
            off += index[d] * _strides[d];
        }
        return off;
    }

    public T Get<T>(params int[] index) where T : unmanaged => ((TensorStorage<T>)Storage).Data[OffsetOf(index)];
    public void Set<T>(T value, params int[] index) where T : unmanaged => ((TensorStorage<T>)Storage).Data[OffsetOf(index)] = value;

    /// <summary>The element at row-major position <paramref name="logical"/>, converted to double.</summary>
    public double GetDouble(int logical)
    {
        int o = OffsetOfLogical(logical);
        return Storage switch
        {
            TensorStorage<float> s => s.Data[o],
            TensorStorage<double> s => s.Data[o],
            TensorStorage<int> s => s.Data[o],
            TensorStorage<long> s => s.Data[o],
            TensorStorage<byte> s => s.Data[o],
            TensorStorage<bool> s => s.Data[o] ? 1 : 0,
            TensorStorage<Half> s => (double)s.Data[o],
            TensorStorage<sbyte> s => s.Data[o],
            TensorStorage<short> s => s.Data[o],
            TensorStorage<ushort> s => s.Data[o],
            TensorStorage<uint> s => s.Data[o],
            TensorStorage<ulong> s => s.Data[o],
            TensorStorage<BFloat16> s => (double)s.Data[o],
            _ => throw new NotSupportedException($"GetDouble: dtype {DType.Name()} is not supported."),
        };
    }

    public void SetDouble(int logical, double value)
    {
        int o = OffsetOfLogical(logical);
        switch (Storage)
        {
            case TensorStorage<float> s: s.Data[o] = (float)value; break;
            case TensorStorage<double> s: s.Data[o] = value; break;
            case TensorStorage<int> s: s.Data[o] = (int)value; break;
            case TensorStorage<long> s: s.Data[o] = (long)value; break;
            case TensorStorage<byte> s: s.Data[o] = (byte)value; break;
            case TensorStorage<bool> s: s.Data[o] = value != 0; break;
            case TensorStorage<Half> s: s.Data[o] = (Half)value; break;
            // Integers wrap like a C cast (through long; ulong through its own cast so values above 2^63 survive).
            case TensorStorage<sbyte> s: s.Data[o] = (sbyte)(long)value; break;
            case TensorStorage<short> s: s.Data[o] = (short)(long)value; break;
            case TensorStorage<ushort> s: s.Data[o] = (ushort)(long)value; break;
            case TensorStorage<uint> s: s.Data[o] = (uint)(long)value; break;
            case TensorStorage<ulong> s: s.Data[o] = value < 0 ? (ulong)(long)value : (ulong)value; break;
            case TensorStorage<BFloat16> s: s.Data[o] = (BFloat16)value; break;
            default: throw new NotSupportedException($"SetDouble: dtype {DType.Name()} is not supported.");
        }
    }

    /// <summary>The single value of a one-element tensor, as double.</summary>
    public double ToScalar() => Length == 1
        ? GetDouble(0)
        : throw new InvalidOperationException($"ToScalar: tensor of shape {ShapeString} has {Length} elements, not 1.");

    /// <summary>Copies the elements, row-major, into a new array.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (Storage is not TensorStorage<T>)
            throw new DTypeMismatchException("ToArray", $"tensor has dtype {DType.Name()}, asked for {typeof(T).Name}");
        var result = new T[Length];
        CopyStrided(this, result.AsSpan());
        return result;
    }

    public double[] ToDoubleArray()
    {
        var result = new double[Length];
        for (int i = 0; i < Length; i++) result[i] = GetDouble(i);
        return result;
    }

    public void Fill(double value)
    {
        switch (Storage)
        {
            case TensorStorage<float> s when IsContiguous: s.Data.AsSpan(_offset, Length).Fill((float)value); break;
            case TensorStorage<double> s when IsContiguous: s.Data.AsSpan(_offset, Length).Fill(value); break;
            default:
                for (int i = 0; i < Length; i++) SetDouble(i, value);
                break;
        }
    }

    // ---- views ----------------------------------------------------------------------------------------------

    private Tensor View(int[] shape, int[] strides, int offset) => new(Storage, shape, strides, offset, false);

    /// <summary>Same elements, new shape (one dimension may be -1). A view when the layout allows, else a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = ResolveReshape(_shape, shape);
        if (IsContiguous) return View(target, ShapeMath.RowMajorStrides(target), _offset);
        return Contiguous().Reshape(target);
    }

    internal static int[] ResolveReshape(ReadOnlySpan<int> from, ReadOnlySpan<int> shape)
    {
        int count = ShapeMath.Count(from);
        var target = shape.ToArray();
        int unknown = -1, known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (unknown >= 0) throw new ShapeMismatchException("Reshape", $"target {ShapeMath.Format(shape)} has more than one -1");
                unknown = i;
            }
            else if (target[i] < 0) throw new ShapeMismatchException("Reshape", $"target {ShapeMath.Format(shape)} has a negative dimension");
            else known *= target[i];
        }
        if (unknown >= 0)
        {
            if (known == 0 || count % known != 0)
                throw new ShapeMismatchException("Reshape", $"cannot reshape {ShapeMath.Format(from)} into {ShapeMath.Format(shape)}");
            target[unknown] = count / known;
        }
        else if (known != count)
            throw new ShapeMismatchException("Reshape", $"cannot reshape {ShapeMath.Format(from)} ({count} elements) into {ShapeMath.Format(shape)} ({known} elements)");
        return target;
    }

    /// <summary>Reorders axes (a view): result axis i is this tensor's axis <c>axes[i]</c>.</summary>
    public Tensor Permute(params int[] axes)
    {
        if (axes.Length != Rank)
            throw new ShapeMismatchException("Permute", $"{axes.Length} axes given for shape {ShapeString}");
        var seen = new bool[Rank];
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int a = ShapeMath.NormalizeAxis(axes[i], Rank, "Permute");
            if (seen[a]) throw new ShapeMismatchException("Permute", $"axis {a} repeated in ({string.Join(", ", axes)})");
            seen[a] = true;
            shape[i] = _shape[a];
            strides[i] = _strides[a];
        }
        return View(shape, strides, _offset);
    }

    /// <summary>Swaps two axes (a view); with no arguments swaps the last two.</summary>
    public Tensor Transpose(int axis0 = -2, int axis1 = -1)
    {
        if (Rank < 2) return this;
        int a = ShapeMath.NormalizeAxis(axis0, Rank, "Transpose"), b = ShapeMath.NormalizeAxis(axis1, Rank, "Transpose");
        var perm = new int[Rank];
        for (int i = 0; i < Rank; i++) perm[i] = i;
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>Elements start, start+step, ... below end along <paramref name="axis"/> (a view). Negative bounds count from the end.</summary>
    public Tensor Slice(int axis, int start, int end, int step = 1)
    {
        axis = ShapeMath.NormalizeAxis(axis, Rank, "Slice");
        if (step <= 0) throw new ArgumentOutOfRangeException(nameof(step), "Slice: step must be positive.");
        int size = _shape[axis];
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size);
        end = Math.Clamp(end, start, size);
        var shape = ShapeArray();
        shape[axis] = (end - start + step - 1) / step;
        var strides = (int[])_strides.Clone();
        strides[axis] *= step;
        return View(shape, strides, _offset + (shape[axis] == 0 ? 0 : start * _strides[axis]));
    }

    /// <summary>Broadcasts to <paramref name="shape"/> by NumPy rules (a view with stride 0 on repeated axes).</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank)
            throw new ShapeMismatchException("Expand", $"cannot broadcast {ShapeString} to {ShapeMath.Format(shape)}");
        var strides = new int[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int d = _shape[i - lead];
            if (d == shape[i]) strides[i] = _strides[i - lead];
            else if (d == 1) strides[i] = 0;
            else throw new ShapeMismatchException("Expand", $"cannot broadcast {ShapeString} to {ShapeMath.Format(shape)}");
        }
        return View((int[])shape.Clone(), strides, _offset);
    }

    /// <summary>Inserts a size-1 axis at <paramref name="axis"/> (a view).</summary>
    public Tensor Unsqueeze(int axis)
    {
        if (axis < 0) axis += Rank + 1;
        if (axis < 0 || axis > Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Unsqueeze: axis out of range for rank {Rank}.");
        var shape = new List<int>(_shape);
        var strides = new List<int>(_strides);
        shape.Insert(axis, 1);
        strides.Insert(axis, axis < Rank ? _strides[axis] * _shape[axis] : 1);
        return View([.. shape], [.. strides], _offset);
    }

    /// <summary>Removes size-1 axes: all of them, or just <paramref name="axis"/> (a view).</summary>
    public Tensor Squeeze(int? axis = null)
    {
        var shape = new List<int>();
        var strides = new List<int>();
        int only = axis is int a ? ShapeMath.NormalizeAxis(a, Rank, "Squeeze") : -1;
        if (only >= 0 && _shape[only] != 1)
            throw new ShapeMismatchException("Squeeze", $"axis {only} of {ShapeString} has size {_shape[only]}, not 1");
        for (int i = 0; i < Rank; i++)
        {
            if (_shape[i] == 1 && (only < 0 || only == i)) continue;
            shape.Add(_shape[i]);
            strides.Add(_strides[i]);
        }
        return View([.. shape], [.. strides], _offset);
    }

    /// <summary>This tensor if contiguous, else a contiguous copy.</summary>
    public Tensor Contiguous() => IsContiguous ? this : Clone();

    /// <summary>A contiguous copy with its own storage.</summary>
    public Tensor Clone()
    {
        var result = Empty(DType, _shape);
        CopyTo(result);
        return result;
    }

    /// <summary>Copies elements into <paramref name="destination"/> of the same shape and dtype (any layout).</summary>
    public void CopyTo(Tensor destination)
    {
        if (!ShapeMath.SameShape(_shape, destination._shape))
            throw new ShapeMismatchException("CopyTo", $"source shape {ShapeString} differs from destination shape {destination.ShapeString}");
        if (DType != destination.DType)
            throw new DTypeMismatchException("CopyTo", $"source dtype {DType.Name()} differs from destination dtype {destination.DType.Name()}");
        switch (Storage)
        {
            case TensorStorage<float>: CopyStrided<float>(this, destination); break;
            case TensorStorage<double>: CopyStrided<double>(this, destination); break;
            case TensorStorage<int>: CopyStrided<int>(this, destination); break;
            case TensorStorage<long>: CopyStrided<long>(this, destination); break;
            case TensorStorage<byte>: CopyStrided<byte>(this, destination); break;
            case TensorStorage<bool>: CopyStrided<bool>(this, destination); break;
            case TensorStorage<Half>: CopyStrided<Half>(this, destination); break;
            case TensorStorage<sbyte>: CopyStrided<sbyte>(this, destination); break;
            case TensorStorage<short>: CopyStrided<short>(this, destination); break;
            case TensorStorage<ushort>: CopyStrided<ushort>(this, destination); break;
            case TensorStorage<uint>: CopyStrided<uint>(this, destination); break;
            case TensorStorage<ulong>: CopyStrided<ulong>(this, destination); break;
            case TensorStorage<BFloat16>: CopyStrided<BFloat16>(this, destination); break;
            default: throw new NotSupportedException($"CopyTo: dtype {DType.Name()} is not supported.");
        }
    }

    private static void CopyStrided<T>(Tensor src, Tensor dst) where T : unmanaged
    {
        var s = src.Data<T>();
        var d = dst.Data<T>();
        if (src.IsContiguous && dst.IsContiguous)
        {
            s.AsSpan(src._offset, src.Length).CopyTo(d.AsSpan(dst._offset, dst.Length));
            return;
        }
        var cur = new StridedCursor(src._shape, src._strides, src._offset, dst._strides, dst._offset);
        int n = cur.RowLength, sa = cur.RowStrideA, sb = cur.RowStrideB;
        while (cur.MoveNext())
        {
            int oa = cur.OffsetA, ob = cur.OffsetB;
            if (sa == 1 && sb == 1) s.AsSpan(oa, n).CopyTo(d.AsSpan(ob, n));
            else for (int i = 0; i < n; i++) d[ob + i * sb] = s[oa + i * sa];
        }
    }

    private static void CopyStrided<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        var s = src.Data<T>();
        if (src.IsContiguous) { s.AsSpan(src._offset, src.Length).CopyTo(dst); return; }
        var cur = new StridedCursor(src._shape, src._strides, src._offset);
        int n = cur.RowLength, sa = cur.RowStrideA, pos = 0;
        while (cur.MoveNext())
        {
            int oa = cur.OffsetA;
            for (int i = 0; i < n; i++) dst[pos++] = s[oa + i * sa];
        }
    }

    /// <summary>Returns the buffer to the pool if this tensor owns it. Views of it must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_ownsStorage) Storage.ReturnToPool();
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor ").Append(DType.Name()).Append(' ').Append(ShapeString).Append(" [");
        int shown = Math.Min(Length, 8);
        for (int i = 0; i < shown; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(GetDouble(i).ToString("G6", System.Globalization.CultureInfo.InvariantCulture));
        }
        if (Length > shown) sb.Append(", ...");
        return sb.Append(']').ToString();
    }
}
