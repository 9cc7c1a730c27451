namespace Tessera;

/// <summary>Shape arithmetic: element counts, strides, NumPy broadcasting, formatting.</summary>
public static class ShapeMath
{
    /// <summary>Number of elements of a shape (1 for a scalar, 0 if any dimension is 0).</summary>
    public static int Count(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            n *= d;
            if (n > Array.MaxLength) throw new ArgumentException($"Shape {Format(shape)} has more than {Array.MaxLength} elements.");
        }
        return (int)n;
    }

    /// <summary>Row-major (C order) strides for a shape.</summary>
    public static int[] RowMajorStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    /// <summary>NumPy broadcasting of two shapes; null if they do not broadcast.</summary>
    public static int[]? TryBroadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da == db || db == 1) result[i] = da;
            else if (da == 1) result[i] = db;
            // -1 is an unknown (dynamic) dimension at graph-build time; the run-time check is exact.
            else if (da == -1) result[i] = db;
            else if (db == -1) result[i] = da;
            else return null;
        }
        return result;
    }

    /// <summary>NumPy broadcasting; throws naming the op and both shapes when they do not broadcast.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op) =>
        TryBroadcast(a, b) ?? throw new ShapeMismatchException(op, $"shapes {Format(a)} and {Format(b)} do not broadcast");

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Normalizes a possibly negative axis into [0, rank).</summary>
    public static int NormalizeAxis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1) || (rank == 0 && axis is not (0 or -1)))
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for rank {rank}.");
        return a;
    }

    public static string Format(ReadOnlySpan<int> shape)
    {
        var parts = new string[shape.Length];
        for (int i = 0; i < shape.Length; i++) parts[i] = shape[i] < 0 ? "?" : shape[i].ToString();
        return "(" + string.Join(", ", parts) + (shape.Length == 1 ? ",)" : ")");
    }
}

/// <summary>Shapes that an op cannot combine. The message names the op and the shapes.</summary>
public sealed class ShapeMismatchException(string op, string detail) : ArgumentException($"{op}: {detail}.")
{
    public string Op { get; } = op;
}

/// <summary>Dtypes that an op cannot combine. The message names the op and the dtypes.</summary>
public sealed class DTypeMismatchException(string op, string detail) : ArgumentException($"{op}: {detail}.")
{
    public string Op { get; } = op;
}
