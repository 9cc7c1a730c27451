using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Tessera.Kernels;

/// <summary>Activation a convolution applies to its own output (inference fusion).</summary>
public enum ConvActivation { None, Relu, Clip }

/// <summary>
/// Work a convolution does on each block of its output while the block is still in cache:
/// y = act(conv(x, w) + bias + residual). Clip bounds are used only with <see cref="ConvActivation.Clip"/>.
/// </summary>
public readonly record struct ConvEpilogue(ConvActivation Activation = ConvActivation.None,
    double ClipMin = double.NegativeInfinity, double ClipMax = double.PositiveInfinity)
{
    public static ConvEpilogue None => default;

    /// <summary>What a fused op appends to its name: "+Add" for an added input (residual, bias), then "+Relu" or "+Clip".</summary>
    public string NameSuffix(bool add) => (add ? "+Add" : "") + Activation switch
    {
        ConvActivation.Relu => "+Relu",
        ConvActivation.Clip => "+Clip",
        _ => "",
    };
    public static ConvEpilogue Relu => new(ConvActivation.Relu);
    public static ConvEpilogue Clip(double min, double max) => new(ConvActivation.Clip, min, max);

    /// <summary>
    /// row = act(row + bias + residual), with the same primitives, in the same order, as the separate Add, Relu and
    /// Clip ops, so a fused graph gives bit-for-bit the outputs of the unfused one.
    /// </summary>
    internal unsafe void Apply<T>(T* row, int length, bool hasBias, T bias, T* residual)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = new Span<T>(row, length);
        if (hasBias) TensorPrimitives.Add(y, bias, y);
        if (residual != null) TensorPrimitives.Add(y, new ReadOnlySpan<T>(residual, length), y);
        switch (Activation)
        {
            case ConvActivation.Relu:
                TensorPrimitives.Max(y, T.Zero, y);
                break;
            case ConvActivation.Clip:
                TensorPrimitives.Max(y, T.CreateTruncating(ClipMin), y);
                TensorPrimitives.Min(y, T.CreateTruncating(ClipMax), y);
                break;
        }
    }
}

/// <summary>
/// Forward convolution. One image at a time (large planes), the output is produced in blocks of columns (output
/// pixels): the im2col of a block, the GEMM into y's columns and the epilogue (bias, residual, activation) all
/// work on data that fits in L2, instead of writing a multi-megabyte column matrix to memory, reading it back to
/// pack it, then sweeping y again for the bias. Small planes batch several images into one GEMM.
/// </summary>
public static unsafe partial class Conv2dKernel
{
    /// <summary>
    /// Most elements of the column matrix built per block (512 KiB of floats): half an L2 on current x64 parts,
    /// leaving room for the GEMM's packed panels. Tunable for benchmarks and tests.
    /// </summary>
    internal static long ColBlockElements { get; set; } = 1L << 17;

    /// <summary>Narrowest column block: below this the GEMM repacks the weights too often for the work it does.</summary>
    private const int MinColBlock = 128;

    /// <summary>y = conv(x, w) + bias. Overwrites y.</summary>
    public static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(g, x, w, bias, default, ConvEpilogue.None, y, DefaultColBudget);

    /// <summary>
    /// y = act(conv(x, w) + bias + residual) (see <see cref="ConvEpilogue"/>). residual is empty or has y's shape
    /// and must not overlap y. Overwrites y.
    /// </summary>
    public static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> residual, in ConvEpilogue epilogue, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(g, x, w, bias, residual, epilogue, y, DefaultColBudget);

    internal static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(g, x, w, bias, default, ConvEpilogue.None, y, colBudget);

    /// <summary>
    /// As <see cref="Forward{T}(in Conv2dGeometry, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, in ConvEpilogue, Span{T})"/>
    /// with the weights already packed for the GEMM by <see cref="PackWeights{T}"/> (constant weights at inference:
    /// packing once instead of once per column block and per call). w must be the tensor they were packed from.
    /// </summary>
    public static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> residual, in ConvEpilogue epilogue, Span<T> y, PackedGemmOperand<T>[]? packedWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(g, x, w, bias, residual, epilogue, y, DefaultColBudget, packedWeights);

    /// <summary>
    /// The weights of each group as a pre-packed GEMM operand (kg × C/groups·R·S), for <c>Forward</c> with
    /// packedWeights; null for depthwise convolutions, which do not use the GEMM.
    /// </summary>
    public static PackedGemmOperand<T>[]? PackWeights<T>(in Conv2dGeometry g, ReadOnlySpan<T> w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) return null;
        int kg = g.K / g.Groups, crs = g.C / g.Groups * g.R * g.S;
        var packed = new PackedGemmOperand<T>[g.Groups];
        for (int gi = 0; gi < g.Groups; gi++)
        {
            var wg = w.Slice(gi * kg * crs, kg * crs);
            packed[gi] = typeof(T) == typeof(float)
                ? (PackedGemmOperand<T>)(object)GemmKernel.PackA(false, kg, crs, MemoryMarshal.Cast<T, float>(wg), crs)
                : (PackedGemmOperand<T>)(object)GemmKernel.PackA(false, kg, crs, MemoryMarshal.Cast<T, double>(wg), crs);
        }
        return packed;
    }

    internal static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> residual, in ConvEpilogue epilogue, Span<T> y, long colBudget, PackedGemmOperand<T>[]? packedWeights = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseForward(g, x, w, bias, residual, epilogue, y); return; }

        int crs = g.C / g.Groups * g.R * g.S, p = g.OutH * g.OutW;
        int nb = ChunkImages(g, crs, p, colBudget);
        fixed (T* px = x, pw = w, pb = bias, pr = residual, py = y)
        {
            if (nb == 1) ForwardByColumnBlocks(g, px, pw, pb, !bias.IsEmpty, pr, epilogue, py, packedWeights);
            else ForwardBatched(g, nb, px, pw, pb, !bias.IsEmpty, pr, epilogue, py, packedWeights);
        }
    }

    /// <summary>One image at a time; each group's output in column blocks of at most <see cref="ColBlockElements"/> im2col elements.</summary>
    private static void ForwardByColumnBlocks<T>(in Conv2dGeometry g, T* x, T* w, T* bias, bool hasBias, T* residual, in ConvEpilogue ep, T* y,
        PackedGemmOperand<T>[]? packed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        bool direct = IsPointwise(g);
        int block = (int)Math.Min(p, Math.Max(MinColBlock, ColBlockElements / Math.Max(crs, 1)));
        if (block < p) block = Math.Max(MinColBlock, block / 16 * 16);
        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * block);
        try
        {
            fixed (T* col = colArr)
            {
                for (int i = 0; i < g.N; i++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        T* xg = x + ((long)i * c + gi * cg) * hw;
                        T* yg = y + ((long)i * k + gi * kg) * p;
                        T* rg = residual == null ? null : residual + ((long)i * k + gi * kg) * p;
                        if (direct && UsePointwiseKernel<T>(g))
                        {
                            // Register-blocked 1×1 kernel: whole image, epilogue in registers (Conv2dKernel.Pointwise.cs).
                            PointwiseForward((float*)xg, (float*)(w + (long)gi * kg * crs), hasBias ? (float*)(bias + gi * kg) : null,
                                (float*)rg, ep, (float*)yg, cg, kg, p);
                            continue;
                        }
                        var wg = new ReadOnlySpan<T>(w + (long)gi * kg * crs, kg * crs);
                        for (int j0 = 0; j0 < p; j0 += block)
                        {
                            int width = Math.Min(block, p - j0);
                            ReadOnlySpan<T> b;
                            int ldb;
                            if (direct)
                            {
                                b = new ReadOnlySpan<T>(xg + j0, (crs - 1) * hw + width);
                                ldb = hw;
                            }
                            else
                            {
                                Im2ColBlock(g, xg, j0, width, col);
                                b = new ReadOnlySpan<T>(col, crs * width);
                                ldb = width;
                            }
                            WeightGemm(packed, gi, kg, width, crs, wg, b, ldb, new Span<T>(yg + j0, (kg - 1) * p + width), p);
                            EpilogueRows(yg + j0, rg == null ? null : rg + j0, p, kg, width, hasBias, bias + gi * kg, ep);
                        }
                    }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
        }
    }

    /// <summary>Rows kk &lt; rows of length width, stride ld: row = act(row + bias[kk] + residual row).</summary>
    private static void EpilogueRows<T>(T* y, T* residual, int ld, int rows, int width, bool hasBias, T* bias, in ConvEpilogue ep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!hasBias && residual == null && ep.Activation == ConvActivation.None) return;
        if ((long)rows * width < ParallelMinElements)
        {
            // Blocks this small stay on this thread; skipping For also skips its closure allocation.
            for (int kk = 0; kk < rows; kk++)
                ep.Apply(y + (long)kk * ld, width, hasBias, hasBias ? bias[kk] : T.Zero, residual == null ? null : residual + (long)kk * ld);
            return;
        }
        nint ay = (nint)y, ar = (nint)residual, ab = (nint)bias;
        var e = ep;
        For(rows, width, kk =>
        {
            T* res = ar == 0 ? null : (T*)ar + (long)kk * ld;
            e.Apply((T*)ay + (long)kk * ld, width, hasBias, hasBias ? ((T*)ab)[kk] : T.Zero, res);
        });
    }

    /// <summary>
    /// The im2col columns j0..j0+width-1 (output pixels of one image, one group) into col: row (c, r, s) of the
    /// column matrix at col + ((c·R + r)·S + s)·width. Jobs are (channel, kernel row) pairs, so even a 3-channel
    /// first layer splits over the threads.
    /// </summary>
    private static void Im2ColBlock<T>(in Conv2dGeometry g, T* x, int j0, int width, T* col)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int cg = g.C / g.Groups;
        nint ax = (nint)x, ac = (nint)col;
        For(cg * g.R, (long)g.S * width, job =>
        {
            int cl = job / geo.R, r = job % geo.R;
            T* xp = (T*)ax + (long)cl * geo.H * geo.W;
            T* dst = (T*)ac + (long)job * geo.S * width;
            for (int s = 0; s < geo.S; s++, dst += width)
                Im2ColRow(geo, xp, r, s, j0, width, dst);
        });
    }

    /// <summary>One row (r, s) of the column matrix of one input plane, output pixels j0..j0+width-1.</summary>
    private static void Im2ColRow<T>(in Conv2dGeometry g, T* xp, int r, int s, int j0, int width, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outW = g.OutW, sw = g.StrideW;
        int off = s * g.DilationW - g.PadLeft;
        ValidRange(off, sw, outW, g.W, out int lo, out int hi);
        int j = j0, end = j0 + width;
        while (j < end)
        {
            int oh = j / outW, ow0 = j - oh * outW, ow1 = Math.Min(outW, ow0 + end - j);
            T* d = dst + (j - j0) - ow0;   // d[ow] is output pixel (oh, ow)
            int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
            if ((uint)ih >= (uint)g.H)
            {
                new Span<T>(d + ow0, ow1 - ow0).Clear();
            }
            else
            {
                int a = Math.Clamp(lo, ow0, ow1), b = Math.Clamp(hi, a, ow1);
                if (a > ow0) new Span<T>(d + ow0, a - ow0).Clear();
                T* src = xp + (long)ih * g.W + off;
                if (sw == 1) new ReadOnlySpan<T>(src + a, b - a).CopyTo(new Span<T>(d + a, b - a));
                else for (int ow = a; ow < b; ow++) d[ow] = src[ow * sw];
                if (ow1 > b) new Span<T>(d + b, ow1 - b).Clear();
            }
            j += ow1 - ow0;
        }
    }

    /// <summary>
    /// Small planes: nb images side by side in one column matrix so one GEMM covers them, then the result rows
    /// are scattered to y with the epilogue applied on the way.
    /// </summary>
    private static void ForwardBatched<T>(in Conv2dGeometry g, int nb, T* x, T* w, T* bias, bool hasBias, T* residual, in ConvEpilogue ep, T* y,
        PackedGemmOperand<T>[]? packed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = g.N, k = g.K, groups = g.Groups;
        int cg = g.C / groups, kg = k / groups, p = g.OutH * g.OutW;
        int crs = cg * g.R * g.S;
        T[] colArr = ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[] outArr = ArrayPool<T>.Shared.Rent(kg * nb * p);
        try
        {
            for (int n0 = 0; n0 < n; n0 += nb)
            {
                int cnt = Math.Min(nb, n - n0);
                int ldCol = cnt * p;
                for (int gi = 0; gi < groups; gi++)
                {
                    var wg = new ReadOnlySpan<T>(w + (long)gi * kg * crs, kg * crs);
                    Im2Col(g, x, n0, cnt, gi * cg, colArr);
                    WeightGemm(packed, gi, kg, ldCol, crs, wg, colArr.AsSpan(0, crs * ldCol), ldCol, outArr.AsSpan(0, kg * ldCol), ldCol);
                    ScatterRows(outArr, y, bias, hasBias, residual, ep, n0, cnt, k, gi * kg, kg, p);
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(colArr);
            ArrayPool<T>.Shared.Return(outArr);
        }
    }

    /// <summary>y[n0+i, k0+kk, :] = epilogue(o[kk, i·P .. (i+1)·P)).</summary>
    private static void ScatterRows<T>(T[] o, T* y, T* bias, bool hasBias, T* residual, in ConvEpilogue ep, int n0, int cnt, int k, int k0, int kg, int p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ay = (nint)y, ab = (nint)bias, ar = (nint)residual;
        int ldo = cnt * p;
        var e = ep;
        fixed (T* po0 = o)
        {
            nint ao = (nint)po0;
            For(cnt * kg, p, job =>
            {
                int i = job / kg, kk = job % kg;
                long at = ((long)(n0 + i) * k + k0 + kk) * p;
                T* dst = (T*)ay + at;
                new ReadOnlySpan<T>((T*)ao + (long)kk * ldo + (long)i * p, p).CopyTo(new Span<T>(dst, p));
                e.Apply(dst, p, hasBias, hasBias ? ((T*)ab)[k0 + kk] : T.Zero, ar == 0 ? null : (T*)ar + at);
            });
        }
    }

    /// <summary>
    /// c = w_g · b for group gi, with the pre-packed weights when given. Problems below the GEMM's small-size
    /// threshold take the unpacked call, so packed and unpacked convolutions give bit-identical results.
    /// </summary>
    private static void WeightGemm<T>(PackedGemmOperand<T>[]? packed, int gi, int kg, int n, int crs, ReadOnlySpan<T> wg,
        ReadOnlySpan<T> b, int ldb, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (packed is null || (long)kg * n * crs < GemmKernel.SmallThreshold)
            Gemm(false, false, kg, n, crs, T.One, wg, crs, b, ldb, T.Zero, c, ldc);
        else if (typeof(T) == typeof(float))
            GemmKernel.SgemmPacked((PackedGemmOperand<float>)(object)packed[gi], false, n, 1f,
                MemoryMarshal.Cast<T, float>(b), ldb, 0f, MemoryMarshal.Cast<T, float>(c), ldc);
        else
            GemmKernel.DgemmPacked((PackedGemmOperand<double>)(object)packed[gi], false, n, 1.0,
                MemoryMarshal.Cast<T, double>(b), ldb, 0.0, MemoryMarshal.Cast<T, double>(c), ldc);
    }
}
