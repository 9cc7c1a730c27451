using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

/// <summary>A count known when the JIT specializes a generic method over it, so loops over it unroll and dead branches vanish.</summary>
internal interface IConstCount { static abstract int Value { get; } }
internal struct Count1 : IConstCount { public static int Value => 1; }
internal struct Count2 : IConstCount { public static int Value => 2; }
internal struct Count3 : IConstCount { public static int Value => 3; }
internal struct Count4 : IConstCount { public static int Value => 4; }
internal struct Count5 : IConstCount { public static int Value => 5; }
internal struct Count6 : IConstCount { public static int Value => 6; }

public static unsafe partial class NchwcConv
{
    /// <summary>
    /// Where a tile reads and writes: the input at its first (block, kernel row, kernel column, channel) for the
    /// tile's first output pixel, how far each loop steps in the input and in the packed weights, and the output.
    /// </summary>
    private struct TileArgs
    {
        public float* X;           // input element for output pixel 0, first channel block, first kernel row/column
        public long PixelStride;   // input distance between neighbouring input pixels (16 in NCHWc, 1 in NCHW)
        public long PixelStep;     // input distance between consecutive output pixels (stride·pixel stride)
        public long BlockStep;     // input distance between channel blocks
        public long RowStep;       // input distance between kernel rows (dilation·row length)
        public long ColStep;       // input distance between kernel columns (dilation·pixel stride)
        public long ChannelStep;   // input distance between channels inside a block (1 in NCHWc, 0 when InBlock = 1)
        public int Blocks, Rows, Cols, InBlock;
        public float* W;           // packed weights at (first block, first kernel row, first kernel column)
        public long WBlockStep, WRowStep, WColStep;
        public long WStep;         // weights distance between channels (AVX2 one-block tiles: F·16; the AVX-512 tile uses F·16 itself)
        public float* Y;           // output pixel 0 of the first filter block (NCHWc)
        public long YBlockStep;    // output distance between filter blocks
        public long YPixelStep;    // output distance between the tile's pixels (16 along a row, a row's length down a column)
        public bool First, Last;   // first pass over the channel blocks (start from 0), last one (apply the epilogue)
        public float* Bias;        // F·16 biases or null
        public float* Residual;    // residual at the output pixel 0 of the first filter block (NCHWc) or null
        public int Activation;     // 0 none, 1 relu, 2 clip
        public float ClipMin, ClipMax;
        public float* Prefetch, PrefetchEnd;   // weights of the next pass still to prefetch
        public long PrefetchPerTile;           // floats of them to prefetch per tile
        public float* PrefetchTileEnd;         // this tile prefetches Prefetch..PrefetchTileEnd-1,
        public int PrefetchLines;              // this many cache lines per kernel tap
        public int Tiles;                      // tiles run so far in this pass
    }

    /// <summary>
    /// F filter blocks (16 output channels each) × T output pixels (consecutive in a row, or one column of
    /// consecutive rows for the edge pixels; PixelStep and YPixelStep say which), held in F·T zmm
    /// accumulators (≤ 24): per input channel F weight vectors are loaded once and each input value is broadcast
    /// once, so every load feeds F or T fused multiply-adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TF, TT>(in TileArgs a) where TF : struct, IConstCount where TT : struct, IConstCount
    {
        int F = TF.Value, T = TT.Value;
        Vector512<float> a00, a01, a02, a03, a04, a05, a10, a11, a12, a13, a14, a15;
        Vector512<float> a20, a21, a22, a23, a24, a25, a30, a31, a32, a33, a34, a35;
        a00 = a01 = a02 = a03 = a04 = a05 = a10 = a11 = a12 = a13 = a14 = a15 = default;
        a20 = a21 = a22 = a23 = a24 = a25 = a30 = a31 = a32 = a33 = a34 = a35 = default;
        if (!a.First)
        {
            float* y = a.Y;
            long ys = a.YBlockStep, yp = a.YPixelStep;
            a00 = Vector512.Load(y); if (T > 1) a01 = Vector512.Load(y + 1 * yp); if (T > 2) a02 = Vector512.Load(y + 2 * yp); if (T > 3) a03 = Vector512.Load(y + 3 * yp); if (T > 4) a04 = Vector512.Load(y + 4 * yp); if (T > 5) a05 = Vector512.Load(y + 5 * yp);
            if (F > 1) { y += ys; a10 = Vector512.Load(y); if (T > 1) a11 = Vector512.Load(y + 1 * yp); if (T > 2) a12 = Vector512.Load(y + 2 * yp); if (T > 3) a13 = Vector512.Load(y + 3 * yp); if (T > 4) a14 = Vector512.Load(y + 4 * yp); if (T > 5) a15 = Vector512.Load(y + 5 * yp); }
            if (F > 2) { y += ys; a20 = Vector512.Load(y); if (T > 1) a21 = Vector512.Load(y + 1 * yp); if (T > 2) a22 = Vector512.Load(y + 2 * yp); if (T > 3) a23 = Vector512.Load(y + 3 * yp); if (T > 4) a24 = Vector512.Load(y + 4 * yp); if (T > 5) a25 = Vector512.Load(y + 5 * yp); }
            if (F > 3) { y += ys; a30 = Vector512.Load(y); if (T > 1) a31 = Vector512.Load(y + 1 * yp); if (T > 2) a32 = Vector512.Load(y + 2 * yp); if (T > 3) a33 = Vector512.Load(y + 3 * yp); if (T > 4) a34 = Vector512.Load(y + 4 * yp); if (T > 5) a35 = Vector512.Load(y + 5 * yp); }
        }

        long px = a.PixelStep, cs = a.ChannelStep;
        int inBlock = a.InBlock;
        float* pf = a.Prefetch, pfEnd = a.PrefetchTileEnd;
        int pfLines = a.PrefetchLines;
        for (int b = 0; b < a.Blocks; b++)
        {
            float* xb = a.X + b * a.BlockStep;
            float* wb = a.W + b * a.WBlockStep;
            for (int r = 0; r < a.Rows; r++)
            {
                float* xr = xb + r * a.RowStep;
                float* wr = wb + r * a.WRowStep;
                for (int s = 0; s < a.Cols; s++)
                {
                    float* x = xr + s * a.ColStep;
                    float* w = wr + s * a.WColStep;
                    for (int k = 0; k < pfLines && pf < pfEnd; k++, pf += 16) Sse.Prefetch1(pf);
                    for (int c = 0; c < inBlock; c++, x += cs, w += F * 16)
                    {
                        var w0 = Vector512.Load(w);
                        var w1 = F > 1 ? Vector512.Load(w + 16) : default;
                        var w2 = F > 2 ? Vector512.Load(w + 32) : default;
                        var w3 = F > 3 ? Vector512.Load(w + 48) : default;
                        var v = Vector512.Create(x[0]);
                        a00 = Vector512.FusedMultiplyAdd(w0, v, a00); if (F > 1) a10 = Vector512.FusedMultiplyAdd(w1, v, a10); if (F > 2) a20 = Vector512.FusedMultiplyAdd(w2, v, a20); if (F > 3) a30 = Vector512.FusedMultiplyAdd(w3, v, a30);
                        if (T > 1) { v = Vector512.Create(x[px]); a01 = Vector512.FusedMultiplyAdd(w0, v, a01); if (F > 1) a11 = Vector512.FusedMultiplyAdd(w1, v, a11); if (F > 2) a21 = Vector512.FusedMultiplyAdd(w2, v, a21); if (F > 3) a31 = Vector512.FusedMultiplyAdd(w3, v, a31); }
                        if (T > 2) { v = Vector512.Create(x[2 * px]); a02 = Vector512.FusedMultiplyAdd(w0, v, a02); if (F > 1) a12 = Vector512.FusedMultiplyAdd(w1, v, a12); if (F > 2) a22 = Vector512.FusedMultiplyAdd(w2, v, a22); if (F > 3) a32 = Vector512.FusedMultiplyAdd(w3, v, a32); }
                        if (T > 3) { v = Vector512.Create(x[3 * px]); a03 = Vector512.FusedMultiplyAdd(w0, v, a03); if (F > 1) a13 = Vector512.FusedMultiplyAdd(w1, v, a13); if (F > 2) a23 = Vector512.FusedMultiplyAdd(w2, v, a23); if (F > 3) a33 = Vector512.FusedMultiplyAdd(w3, v, a33); }
                        if (T > 4) { v = Vector512.Create(x[4 * px]); a04 = Vector512.FusedMultiplyAdd(w0, v, a04); if (F > 1) a14 = Vector512.FusedMultiplyAdd(w1, v, a14); if (F > 2) a24 = Vector512.FusedMultiplyAdd(w2, v, a24); if (F > 3) a34 = Vector512.FusedMultiplyAdd(w3, v, a34); }
                        if (T > 5) { v = Vector512.Create(x[5 * px]); a05 = Vector512.FusedMultiplyAdd(w0, v, a05); if (F > 1) a15 = Vector512.FusedMultiplyAdd(w1, v, a15); if (F > 2) a25 = Vector512.FusedMultiplyAdd(w2, v, a25); if (F > 3) a35 = Vector512.FusedMultiplyAdd(w3, v, a35); }
                    }
                }
            }
        }

        Store<TT>(a, 0, a00, a01, a02, a03, a04, a05);
        if (F > 1) Store<TT>(a, 1, a10, a11, a12, a13, a14, a15);
        if (F > 2) Store<TT>(a, 2, a20, a21, a22, a23, a24, a25);
        if (F > 3) Store<TT>(a, 3, a30, a31, a32, a33, a34, a35);
    }

    /// <summary>Filter block f's T accumulators to the output, through the epilogue on the last pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TT>(in TileArgs a, int f, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2,
        Vector512<float> v3, Vector512<float> v4, Vector512<float> v5) where TT : struct, IConstCount
    {
        int T = TT.Value;
        float* y = a.Y + f * a.YBlockStep;
        long yp = a.YPixelStep;
        if (a.Last)
        {
            var bias = a.Bias == null ? Vector512<float>.Zero : Vector512.Load(a.Bias + f * 16);
            float* res = a.Residual == null ? null : a.Residual + f * a.YBlockStep;
            v0 = Finish(a, v0, bias, res, 0);
            if (T > 1) v1 = Finish(a, v1, bias, res, 1);
            if (T > 2) v2 = Finish(a, v2, bias, res, 2);
            if (T > 3) v3 = Finish(a, v3, bias, res, 3);
            if (T > 4) v4 = Finish(a, v4, bias, res, 4);
            if (T > 5) v5 = Finish(a, v5, bias, res, 5);
        }
        v0.Store(y);
        if (T > 1) v1.Store(y + 1 * yp);
        if (T > 2) v2.Store(y + 2 * yp);
        if (T > 3) v3.Store(y + 3 * yp);
        if (T > 4) v4.Store(y + 4 * yp);
        if (T > 5) v5.Store(y + 5 * yp);
    }

    /// <summary>act(v + bias + residual), in the order of the unfused Add, Add, Relu/Clip ops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Finish(in TileArgs a, Vector512<float> v, Vector512<float> bias, float* residual, int t)
    {
        v += bias;
        if (residual != null) v += Vector512.Load(residual + t * a.YPixelStep);
        if (a.Activation == 1) v = Vector512.Max(v, Vector512<float>.Zero);
        else if (a.Activation == 2) v = Vector512.Min(Vector512.Max(v, Vector512.Create(a.ClipMin)), Vector512.Create(a.ClipMax));
        return v;
    }

    /// <summary>Runs the tile of F filter blocks and T pixels, F and T known only at run time (1–4, 1–6).</summary>
    private static void RunTile(int f, int t, in TileArgs a)
    {
        if (UseAvx2Tiles)
        {
            RunTile256(f, t, a);
            return;
        }
        switch (f)
        {
            case 4: RunTile<Count4>(t, a); break;
            case 3: RunTile<Count3>(t, a); break;
            case 2: RunTile<Count2>(t, a); break;
            default: RunTile<Count1>(t, a); break;
        }
    }

    private static void RunTile<TF>(int t, in TileArgs a) where TF : struct, IConstCount
    {
        switch (t)
        {
            case 6: Tile<TF, Count6>(a); break;
            case 5: Tile<TF, Count5>(a); break;
            case 4: Tile<TF, Count4>(a); break;
            case 3: Tile<TF, Count3>(a); break;
            case 2: Tile<TF, Count2>(a); break;
            default: Tile<TF, Count1>(a); break;
        }
    }
}
