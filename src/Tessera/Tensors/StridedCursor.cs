namespace Tessera;

/// <summary>
/// Walks the rows of up to three strided operands that share one (broadcast) shape. A row is the innermost
/// dimension; each step yields the starting offset of the current row in every operand. Adjacent dimensions that
/// are contiguous in all operands are merged first so contiguous and simply-broadcast tensors take few, long rows.
/// </summary>
internal struct StridedCursor
{
    private readonly int[] _outer;      // sizes of the outer (non-row) dimensions
    private readonly int[] _sa, _sb, _sc;
    private readonly int[] _index;
    private bool _started;
    public int OffsetA, OffsetB, OffsetC;
    public readonly int RowLength, RowStrideA, RowStrideB, RowStrideC;
    public readonly long Rows;

    public StridedCursor(ReadOnlySpan<int> shape, ReadOnlySpan<int> stridesA, int offsetA,
        ReadOnlySpan<int> stridesB = default, int offsetB = 0, ReadOnlySpan<int> stridesC = default, int offsetC = 0)
    {
        int rank = shape.Length;
        Span<int> dims = stackalloc int[Math.Max(rank, 1)];
        Span<int> a = stackalloc int[Math.Max(rank, 1)];
        Span<int> b = stackalloc int[Math.Max(rank, 1)];
        Span<int> c = stackalloc int[Math.Max(rank, 1)];
        int n = 0;
        for (int i = 0; i < rank; i++)
        {
            if (shape[i] == 1) continue; // size-1 dims never move the cursor
            int sa = stridesA[i], sb = stridesB.IsEmpty ? 0 : stridesB[i], sc = stridesC.IsEmpty ? 0 : stridesC[i];
            if (n > 0 && a[n - 1] == sa * shape[i] && b[n - 1] == sb * shape[i] && c[n - 1] == sc * shape[i])
            {
                dims[n - 1] *= shape[i];
                a[n - 1] = sa; b[n - 1] = sb; c[n - 1] = sc;
            }
            else
            {
                dims[n] = shape[i]; a[n] = sa; b[n] = sb; c[n] = sc; n++;
            }
        }
        if (n == 0) { dims[0] = 1; a[0] = b[0] = c[0] = 0; n = 1; }
        RowLength = dims[n - 1];
        RowStrideA = a[n - 1]; RowStrideB = b[n - 1]; RowStrideC = c[n - 1];
        _outer = dims[..(n - 1)].ToArray();
        _sa = a[..(n - 1)].ToArray(); _sb = b[..(n - 1)].ToArray(); _sc = c[..(n - 1)].ToArray();
        _index = new int[n - 1];
        long rows = 1;
        foreach (var d in _outer) rows *= d;
        Rows = ShapeMath.Count(shape) == 0 ? 0 : rows;
        OffsetA = offsetA; OffsetB = offsetB; OffsetC = offsetC;
        _started = false;
    }

    /// <summary>Advances to the next row; false when all rows were visited.</summary>
    public bool MoveNext()
    {
        if (!_started)
        {
            _started = true;
            return Rows > 0;
        }
        for (int d = _outer.Length - 1; d >= 0; d--)
        {
            if (++_index[d] < _outer[d])
            {
                OffsetA += _sa[d]; OffsetB += _sb[d]; OffsetC += _sc[d];
                return true;
            }
            _index[d] = 0;
            OffsetA -= _sa[d] * (_outer[d] - 1);
            OffsetB -= _sb[d] * (_outer[d] - 1);
            OffsetC -= _sc[d] * (_outer[d] - 1);
        }
        return false;
    }
}
