namespace Tessera.Kernels;

/// <summary>
/// Copies y[o₀, o₁, …] = x[m₀(o₀), m₁(o₁), …] where each axis has its own index map (−1 = fill). Slices with any
/// step, tiles, edge/reflect/constant pads and flips are all such maps, so they share this one loop.
/// </summary>
public static class AxisMapKernel
{
    public static void Run(Tensor x, int[][] maps, double fill, Tensor y)
    {
        switch (y.DType)
        {
            case DType.Float32: Run<float>(x, maps, (float)fill, y); break;
            case DType.Float64: Run(x, maps, fill, y); break;
            case DType.Int32: Run(x, maps, (int)fill, y); break;
            case DType.Int64: Run(x, maps, (long)fill, y); break;
            case DType.UInt8: Run(x, maps, (byte)fill, y); break;
            case DType.Bool: Run(x, maps, fill != 0, y); break;
            case DType.Float16: Run(x, maps, (Half)fill, y); break;
            case DType.Int8: Run(x, maps, (sbyte)fill, y); break;
            case DType.Int16: Run(x, maps, (short)fill, y); break;
            case DType.UInt16: Run(x, maps, (ushort)fill, y); break;
            case DType.UInt32: Run(x, maps, (uint)fill, y); break;
            case DType.UInt64: Run(x, maps, (ulong)fill, y); break;
            case DType.BFloat16: Run(x, maps, (BFloat16)fill, y); break;
            default: throw new DTypeMismatchException("AxisMap", $"dtype {x.DType.Name()} is not supported");
        }
    }

    private static void Run<T>(Tensor x, int[][] maps, T fill, Tensor y) where T : unmanaged
    {
        int rank = y.Rank;
        var ys = y.AsSpan<T>();
        if (ys.Length == 0) return;
        var xs = x.Data<T>();
        if (rank == 0) { ys[0] = xs[x.Offset]; return; }
        // Per-axis storage offsets of x (or -1 for fill) for every output index.
        var offs = new int[rank][];
        for (int d = 0; d < rank; d++)
        {
            var m = maps[d];
            var o = offs[d] = new int[m.Length];
            for (int i = 0; i < m.Length; i++) o[i] = m[i] < 0 ? int.MinValue : m[i] * x.Strides[d];
        }
        var idx = new int[rank];
        int last = rank - 1, n = y.Shape[last];
        var lastOff = offs[last];
        int pos = 0;
        while (true)
        {
            int baseOff = x.Offset;
            bool filled = false;
            for (int d = 0; d < last; d++)
            {
                int o = offs[d][idx[d]];
                if (o == int.MinValue) { filled = true; break; }
                baseOff += o;
            }
            if (filled) ys.Slice(pos, n).Fill(fill);
            else for (int i = 0; i < n; i++) { int o = lastOff[i]; ys[pos + i] = o == int.MinValue ? fill : xs[baseOff + o]; }
            pos += n;
            int a = last - 1;
            while (a >= 0 && ++idx[a] == y.Shape[a]) { idx[a] = 0; a--; }
            if (a < 0) break;
        }
    }
}
