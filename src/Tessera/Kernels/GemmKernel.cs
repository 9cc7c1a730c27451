using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Kernels;

/// <summary>
/// General matrix multiply on row-major matrices: C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ.
/// A is m×k after op (stored k×m when transposed), B is k×n after op; lda/ldb/ldc are row strides.
/// </summary>
/// <remarks>
/// Large problems use a GotoBLAS/BLIS-style algorithm: B is packed into KC×NC blocks of NR-wide
/// micro-panels, A into MC×KC blocks of MR-tall micro-panels, and an MR×NR register-blocked
/// micro-kernel (AVX-512 12×32 when available, else AVX2/FMA 6×16, else portable <see cref="Vector{T}"/>
/// code; see <see cref="GemmKernelKind"/>) updates C. A constant A (weights) can be packed once with
/// <see cref="PackA(bool, int, int, ReadOnlySpan{float}, int)"/> and reused across calls.
/// The C matrix is split into independent rectangles, one per thread. Small problems take a
/// direct, unpacked, single-threaded path. When beta is zero the previous contents of C are never read.
/// </remarks>
public static partial class GemmKernel
{
    private static int s_maxThreads = Environment.ProcessorCount;

    /// <summary>Upper bound on worker threads used by one GEMM call (default: processor count, minimum 1).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set => s_maxThreads = Math.Max(1, value);
    }

    /// <summary>Test hook: forces the portable (non-SIMD-intrinsics) micro-kernel (see also <see cref="ForceKernel"/>).</summary>
    internal static bool ForcePortable { get; set; }

    /// <summary>Test hook: problems with m·n·k below this use the direct, unpacked path.</summary>
    internal static long SmallThreshold { get; set; } = 32 * 1024;

    /// <summary>Minimum m·n·k per worker thread before the work is split.</summary>
    internal static long MinWorkPerThread { get; set; } = 64L * 64 * 64;

    /// <summary>Rectangles of C per worker thread (dynamic load balancing granularity).</summary>
    internal static int TasksPerThread { get; set; } = 2;

    /// <summary>Minimum m·n·k per rectangle of C handed to a worker.</summary>
    internal static long MinWorkPerTask { get; set; } = 128L * 128 * 128;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    private static unsafe void Gemm<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return;

        CheckOperand(c.Length, m, n, ldc, nameof(c));
        bool useAb = k > 0 && alpha != T.Zero;
        if (useAb)
        {
            if (transA) CheckOperand(a.Length, k, m, lda, nameof(a));
            else CheckOperand(a.Length, m, k, lda, nameof(a));
            if (transB) CheckOperand(b.Length, n, k, ldb, nameof(b));
            else CheckOperand(b.Length, k, n, ldb, nameof(b));
        }

        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            if (!useAb)
            {
                ScaleC(m, n, beta, pc, ldc);
                return;
            }

            long work = (long)m * n * k;
            if (work < SmallThreshold)
            {
                SmallGemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                return;
            }

            var tiling = GetTiling<T>(ActiveKernel);
            int threads = (int)Math.Min(MaxThreads, Math.Max(1, work / MinWorkPerThread));
            if (threads <= 1)
            {
                Blocked(in tiling, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
                return;
            }
            Threaded(in tiling, threads, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    private static void CheckOperand(int length, int rows, int cols, int ld, string name)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"Leading dimension of '{name}' ({ld}) is smaller than its row length ({cols}).", name);
        long need = (long)(rows - 1) * ld + cols;
        if (length < need) throw new ArgumentException($"Span '{name}' is too short: {length} < {need}.", name);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ScaleC<T>(int m, int n, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + (long)i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else if (beta != T.One)
                for (int j = 0; j < row.Length; j++) row[j] *= beta;
        }
    }

    // ---------------------------------------------------------------- threading

    private static unsafe void Threaded<T>(in Tiling tiling, int threads, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, T* packedA = null, int mPad = 0, T* packedB = null, int nPad = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = tiling.MR, nr = tiling.NR;
        if (UseKSplit(in tiling, threads, m, n, k))
        {
            KSplit(in tiling, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packedA, mPad, packedB, nPad);
            return;
        }
        // Cut C into a grid of independent rectangles (each runs the full packed algorithm) and let the
        // workers take them dynamically: a thread that gets less CPU (a busy, shared machine) simply takes
        // fewer rectangles. Aim for several rectangles per thread; halve the longer side each time.
        long work = (long)m * n * k;
        int target = (int)Math.Min(threads * TasksPerThread, Math.Max(threads, work / MinWorkPerTask));
        int gm = 1, gn = 1;
        while (gm * gn < target)
        {
            double rows = (double)m / gm, cols = (double)n / gn;
            bool canRows = rows >= 2 * mr, canCols = cols >= 2 * nr;
            if (canRows && (rows >= cols || !canCols)) gm *= 2;
            else if (canCols) gn *= 2;
            else break;
        }
        int tasks = gm * gn;
        if (tasks == 1)
        {
            Blocked(in tiling, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, packedA, mPad, 0, packedB, nPad);
            return;
        }

        nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pp = (nint)packedA, ppb = (nint)packedB;
        var t = tiling;
        int next = -1;
        int workers = Math.Min(threads, tasks);
        KernelThreads.For(workers, workers, _ =>
        {
            int idx;
            while ((idx = Interlocked.Increment(ref next)) < tasks)
            {
                int ti = idx % gm, tj = idx / gm;
                Split(m, gm, mr, ti, out int i0, out int i1);
                Split(n, gn, nr, tj, out int j0, out int j1);
                if (i1 <= i0 || j1 <= j0) continue;
                T* sa = (T*)pa + (transA ? i0 : (long)i0 * lda);
                T* sb = ppb != 0 ? null : (T*)pb + (transB ? (long)j0 * ldb : j0);
                T* sc = (T*)pc + (long)i0 * ldc + j0;
                Blocked(in t, transA, transB, i1 - i0, j1 - j0, k, alpha, sa, lda, sb, ldb, beta, sc, ldc, (T*)pp, mPad, i0, (T*)ppb, nPad, j0);
            }
        });
    }

    /// <summary>Test hook: C tiles per thread below which a long reduction is split over k instead of over C.</summary>
    internal static int KSplitTilesPerThread { get; set; } = 16;

    /// <summary>
    /// Few C tiles but a long k (weight gradients: C = outC×(C·R·S), k = batch·pixels, e.g. 32×27×50176):
    /// a grid over C would leave threads idle or unbalanced, so split k instead.
    /// </summary>
    private static bool UseKSplit(in Tiling t, int threads, int m, int n, int k)
    {
        long tiles = (long)((m + t.MR - 1) / t.MR) * ((n + t.NR - 1) / t.NR);
        int kBlocks = (k + t.KC - 1) / t.KC;
        return tiles < (long)KSplitTilesPerThread * threads && kBlocks >= threads && (long)m * n <= 1 << 22;
    }

    /// <summary>
    /// C = alpha·Σ_parts A[:,kpart]·B[kpart,:] + beta·C: part 0 runs on C itself (applying beta), the others into
    /// private m×n buffers that are added to C afterwards. Parts start at multiples of KC, so a pre-packed A is
    /// entered at a k-block boundary.
    /// </summary>
    private static unsafe void KSplit<T>(in Tiling tiling, int parts, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, T* packedA, int mPad, T* packedB, int nPad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var partials = new T[parts - 1][];
        for (int i = 0; i < partials.Length; i++) partials[i] = GC.AllocateUninitializedArray<T>(m * n, pinned: true);
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c, pp = (nint)packedA, ppb = (nint)packedB;
        var t = tiling;
        KernelThreads.For(parts, parts, part =>
        {
            Split(k, parts, t.KC, part, out int k0, out int k1);
            if (k1 <= k0) return;   // cannot happen while kBlocks >= parts, but keeps the partial defined
            T* sa = (T*)pa + (transA ? (long)k0 * lda : k0);
            T* sb = ppb != 0 ? null : (T*)pb + (transB ? k0 : (long)k0 * ldb);
            T* sp = pp == 0 ? null : (T*)pp + (long)k0 * mPad;
            T* spb = ppb == 0 ? null : (T*)ppb + (long)k0 * nPad;
            if (part == 0)
            {
                Blocked(in t, transA, transB, m, n, k1 - k0, alpha, sa, lda, sb, ldb, beta, (T*)pc, ldc, sp, mPad, 0, spb, nPad);
                return;
            }
            fixed (T* dst = partials[part - 1])
                Blocked(in t, transA, transB, m, n, k1 - k0, alpha, sa, lda, sb, ldb, T.Zero, dst, n, sp, mPad, 0, spb, nPad);
        });
        for (int p = 0; p < partials.Length; p++)
        {
            fixed (T* src = partials[p])
                for (int i = 0; i < m; i++)
                {
                    T* ci = c + (long)i * ldc;
                    T* si = src + (long)i * n;
                    int j = 0;
                    if (Vector.IsHardwareAccelerated)
                        for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
                            (Vector.Load(ci + j) + Vector.Load(si + j)).Store(ci + j);
                    for (; j < n; j++) ci[j] += si[j];
                }
        }
    }

    /// <summary>Splits [0,len) into parts whose boundaries are multiples of <paramref name="quantum"/>.</summary>
    private static void Split(int len, int parts, int quantum, int index, out int start, out int end)
    {
        int units = (len + quantum - 1) / quantum;
        int per = units / parts, rem = units % parts;
        int u0 = index * per + Math.Min(index, rem);
        int u1 = u0 + per + (index < rem ? 1 : 0);
        start = Math.Min(len, u0 * quantum);
        end = Math.Min(len, u1 * quantum);
    }

    // ---------------------------------------------------------------- small path

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SmallGemm<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!transB)
        {
            // C[i,:] = beta·C[i,:] + Σ_p (alpha·A[i,p])·B[p,:], rows of B are contiguous.
            for (int i = 0; i < m; i++)
            {
                T* ci = c + (long)i * ldc;
                var crow = new Span<T>(ci, n);
                if (beta == T.Zero) crow.Clear();
                else if (beta != T.One)
                    for (int j = 0; j < n; j++) crow[j] *= beta;
                for (int p = 0; p < k; p++)
                {
                    T aip = alpha * (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]);
                    if (aip == T.Zero) continue;
                    Axpy(aip, b + (long)p * ldb, ci, n);
                }
            }
        }
        else
        {
            // B stored n×k: C[i,j] = Σ_p A[i,p]·Bs[j,p].
            for (int i = 0; i < m; i++)
            {
                T* ci = c + (long)i * ldc;
                for (int j = 0; j < n; j++)
                {
                    T* bj = b + (long)j * ldb;
                    T sum = T.Zero;
                    if (!transA)
                        sum = Dot(a + (long)i * lda, bj, k);
                    else
                        for (int p = 0; p < k; p++) sum += a[(long)p * lda + i] * bj[p];
                    ci[j] = beta == T.Zero ? alpha * sum : alpha * sum + beta * ci[j];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Axpy<T>(T alpha, T* x, T* y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var va = new Vector<T>(alpha);
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
            {
                var vy = Vector.Load(y + j) + va * Vector.Load(x + j);
                vy.Store(y + j);
            }
        }
        for (; j < n; j++) y[j] += alpha * x[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe T Dot<T>(T* x, T* y, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        T sum = T.Zero;
        if (Vector.IsHardwareAccelerated && n >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; j <= n - Vector<T>.Count; j += Vector<T>.Count)
                acc += Vector.Load(x + j) * Vector.Load(y + j);
            sum = Vector.Sum(acc);
        }
        for (; j < n; j++) sum += x[j] * y[j];
        return sum;
    }
}
