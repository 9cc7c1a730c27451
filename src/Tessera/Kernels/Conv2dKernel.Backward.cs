using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

// The backward (training) half of Conv2dKernel: gradients with respect to the input, the weight and the bias.
public static unsafe partial class Conv2dKernel
{
    // ------------------------------------------------------------------------------------------------------
    // Backward data
    // ------------------------------------------------------------------------------------------------------

    /// <summary>dx = convᵀ(dy, w) (gradient of the forward with respect to x). Overwrites dx.</summary>
    public static void BackwardData<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
        => BackwardData(g, dy, w, dx, DefaultColBudget);

    internal static void BackwardData<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseBackwardData(g, dy, w, dx); return; }

        int n = g.N, c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        int nb = ChunkImages(g, crs, p, colBudget);
        bool direct = IsPointwise(g) && nb == 1;

        if (!direct) dx.Clear();
        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[]? dyArr = nb > 1 ? ArrayPool<T>.Shared.Rent(kg * nb * p) : null;
        try
        {
            fixed (T* pdy = dy, pdx = dx)
            {
                for (int n0 = 0; n0 < n; n0 += nb)
                {
                    int cnt = Math.Min(nb, n - n0);
                    int ldCol = cnt * p;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        ReadOnlySpan<T> wg = w.Slice(gi * kg * crs, kg * crs);
                        ReadOnlySpan<T> b;
                        int ldb;
                        if (cnt == 1)
                        {
                            b = dy.Slice((n0 * k + gi * kg) * p, kg * p);
                            ldb = p;
                        }
                        else
                        {
                            GatherRows(pdy, dyArr!, n0, cnt, k, gi * kg, kg, p);
                            b = dyArr.AsSpan(0, kg * ldCol);
                            ldb = ldCol;
                        }

                        if (direct)
                        {
                            Span<T> dxg = dx.Slice((n0 * c + gi * cg) * hw, cg * hw);
                            Gemm(true, false, crs, p, kg, T.One, wg, crs, b, ldb, T.Zero, dxg, hw);
                        }
                        else
                        {
                            Gemm(true, false, crs, ldCol, kg, T.One, wg, crs, b, ldb, T.Zero, colArr.AsSpan(0, crs * ldCol), ldCol);
                            Col2Im(g, colArr!, n0, cnt, gi * cg, pdx);
                        }
                    }
                }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
            if (dyArr != null) ArrayPool<T>.Shared.Return(dyArr);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Backward weight
    // ------------------------------------------------------------------------------------------------------

    /// <summary>dw = Σ over the batch of dy ⋆ x (gradient of the forward with respect to w). Overwrites dw.</summary>
    public static void BackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw)
        where T : unmanaged, IFloatingPointIeee754<T>
        => BackwardWeight(g, x, dy, dw, DefaultColBudget);

    internal static void BackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseBackwardWeight(g, x, dy, dw); return; }

        int n = g.N, c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        if (n == 0 || p == 0) { dw.Clear(); return; }
        int nb = ChunkImages(g, crs, p, colBudget);
        bool direct = IsPointwise(g) && nb == 1;

        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[]? dyArr = nb > 1 ? ArrayPool<T>.Shared.Rent(kg * nb * p) : null;
        try
        {
            fixed (T* px = x, pdy = dy)
            {
                for (int n0 = 0; n0 < n; n0 += nb)
                {
                    int cnt = Math.Min(nb, n - n0);
                    int ldCol = cnt * p;
                    T beta = n0 == 0 ? T.Zero : T.One;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        ReadOnlySpan<T> a;
                        int lda;
                        if (cnt == 1)
                        {
                            a = dy.Slice((n0 * k + gi * kg) * p, kg * p);
                            lda = p;
                        }
                        else
                        {
                            GatherRows(pdy, dyArr!, n0, cnt, k, gi * kg, kg, p);
                            a = dyArr.AsSpan(0, kg * ldCol);
                            lda = ldCol;
                        }

                        ReadOnlySpan<T> b;
                        int ldb;
                        if (direct)
                        {
                            b = x.Slice((n0 * c + gi * cg) * hw, cg * hw);
                            ldb = hw;
                        }
                        else
                        {
                            Im2Col(g, px, n0, cnt, gi * cg, colArr!);
                            b = colArr.AsSpan(0, crs * ldCol);
                            ldb = ldCol;
                        }

                        Gemm(false, true, kg, crs, ldCol, T.One, a, lda, b, ldb, beta, dw.Slice(gi * kg * crs, kg * crs), crs);
                    }
                }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
            if (dyArr != null) ArrayPool<T>.Shared.Return(dyArr);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Backward bias
    // ------------------------------------------------------------------------------------------------------

    /// <summary>db[k] = Σ over n, oh, ow of dy[n, k, oh, ow]. Overwrites db.</summary>
    public static void BackwardBias<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int p = g.OutH * g.OutW, k = g.K;
        db.Slice(0, k).Clear();
        for (int i = 0; i < g.N; i++)
            for (int kk = 0; kk < k; kk++)
                db[kk] += TensorPrimitives.Sum(dy.Slice((i * k + kk) * p, p));
    }
}
