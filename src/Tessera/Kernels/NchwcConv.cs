using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

/// <summary>
/// Direct float convolution on channel-blocked activations (NCHWc: [N][C/16][H][W][16], one zmm register per
/// pixel's block of 16 channels), the layout ONNX Runtime's MLAS and oneDNN use on AVX-512 parts. Instead of
/// im2col (which copies every input value R·S times) and a GEMM, each tile keeps 4 filter blocks × 6 output
/// pixels of one output row in registers and walks the input channels and the kernel window, broadcasting each
/// input value once per tile. Padding is handled by clipping the kernel window per output row and per edge pixel,
/// so the input is never copied into a padded buffer.
/// <para>
/// The input is either NCHWc or, for layers with few channels (an RGB first layer), plain NCHW read with a
/// channel block of 1. Output channels are padded to a multiple of 16 with zero filters, input channels with
/// zeros, so any channel count works. Correct everywhere (Vector512 falls back to software), fast where
/// <see cref="IsAccelerated"/>.
/// </para>
/// </summary>
public static unsafe partial class NchwcConv
{
    /// <summary>Channels per block: one Vector512 of floats.</summary>
    public const int Block = 16;

    /// <summary>Filter blocks per tile (4 × 16 output channels).</summary>
    private const int TileFilters = 4;

    /// <summary>Output pixels per tile along a row.</summary>
    private const int TilePixels = 6;

    /// <summary>
    /// Bytes of packed weights one pass over the channel blocks may touch (default 128 KiB, an eighth of an
    /// L2): the accumulators go back to the output between passes, the chunk stays in L2 for all the rows of a pass.
    /// Jobs of few output pixels use <see cref="L1ChunkBytes"/> instead.
    /// Settable for tuning (TESSERA_NCHWC_CHUNK_BYTES in the environment at start-up).
    /// </summary>
    public static long WeightChunkBytes { get; set; } =
        long.TryParse(Environment.GetEnvironmentVariable("TESSERA_NCHWC_CHUNK_BYTES"), out long v) && v > 0 ? v : 128 * 1024;

    /// <summary>Jobs of at most this many output pixels take weight chunks of <see cref="L1ChunkBytes"/>.</summary>
    private const int SmallJobPixels = 64;

    /// <summary>
    /// Weight chunk for small jobs (default 40 KiB: one 3×3 block of 4 filter blocks, ten of a 1×1); 0 gives them
    /// <see cref="WeightChunkBytes"/> like the others (for measurement).
    /// </summary>
    public static long L1ChunkBytes { get; set; } = 40 * 1024;

    /// <summary>Whether each pass prefetches the next chunk of weights into L2 (on by default; off for measurement).</summary>
    public static bool PrefetchWeights { get; set; } = true;

    /// <summary>How <see cref="Forward"/> splits a convolution into jobs (for measurement; Auto in production).</summary>
    public static NchwcSplit Split { get; set; } =
        Environment.GetEnvironmentVariable("TESSERA_NCHWC_SPLIT") == "filters" ? NchwcSplit.Filters : NchwcSplit.Auto;

    /// <summary>
    /// Whether the blocked kernels pay on this machine: AVX-512 (one block per zmm), or AVX2 + FMA (convolution tiles
    /// on ymm halves; the blocked pooling and depthwise kernels then run Vector512 as two Vector256).
    /// </summary>
    public static bool IsAccelerated => Vector512.IsHardwareAccelerated || UseAvx2Tiles;

    /// <summary>Number of 16-channel blocks holding <paramref name="channels"/> channels.</summary>
    public static int Blocks(int channels) => (channels + Block - 1) / Block;

    /// <summary>Channel counts up to this read a plain NCHW input (channel block of 1) instead of a blocked one.</summary>
    public const int MaxPlainInputChannels = 4;

    /// <summary>
    /// y = act(conv(x, w) + bias + residual) with x, residual and y channel-blocked (x plain NCHW when
    /// <see cref="NchwcWeights.BlockedInput"/> is false). Groups must be 1. Overwrites y.
    /// </summary>
    public static void Forward(in Conv2dGeometry g, NchwcWeights w, float* x, float* residual, in ConvEpilogue ep, float* y) =>
        ForwardInto(g, w, x, residual, ep, y, w.KBlocks);

    /// <summary>
    /// As <see cref="Forward"/>, writing this convolution's blocks into a wider blocked tensor of
    /// <paramref name="outputBlocks"/> blocks per image (a channel concat of several convolutions): y points at this
    /// convolution's first block of image 0. The residual, if any, has this convolution's own shape.
    /// </summary>
    public static void ForwardInto(in Conv2dGeometry g, NchwcWeights w, float* x, float* residual, in ConvEpilogue ep, float* y, int outputBlocks)
    {
        if (outputBlocks < w.KBlocks) throw new ArgumentException($"An output of {outputBlocks} blocks per image cannot hold {w.KBlocks}.");
        if (g.Groups != 1) throw new ArgumentException($"NCHWc convolution needs groups = 1, got {g.Groups}.");
        if (g.K != w.K || g.C != w.C || g.R != w.R || g.S != w.S)
            throw new ArgumentException($"Packed weights are [{w.K}, {w.C}, {w.R}, {w.S}], the convolution needs [{g.K}, {g.C}, {g.R}, {g.S}].");
        // A 1×1, stride-1, unpadded convolution maps output pixel q to input pixel q: the plane is one long row,
        // so tiles run across row ends (a 13×13 map is 29 tiles of 5–6 pixels, not 13 rows of 5+4+4).
        var geo = IsFlatPointwise(g) ? g with { H = 1, W = g.H * g.W } : g;
        var weights = w;
        var epilogue = ep;
        int groups = (w.KBlocks + TileFilters - 1) / TileFilters;
        int threads = Environment.ProcessorCount;
        // Row blocks: enough jobs for the threads to balance, few enough that each streams its weights once.
        long work = (long)geo.N * groups * geo.OutH;
        bool byFilters = Split == NchwcSplit.Filters && (long)geo.N * groups >= 2L * threads;
        int rowsPerJob = byFilters ? geo.OutH : (int)Math.Clamp(work / (4L * threads), 1, geo.OutH);
        int rowBlocks = (geo.OutH + rowsPerJob - 1) / rowsPerJob;
        // Column blocks only when rows alone leave too few jobs (a flattened plane is a single row).
        int colBlocks = byFilters ? 1 : (int)Math.Clamp(4L * threads / ((long)geo.N * groups * rowBlocks), 1, (geo.OutW + 4 * TilePixels - 1) / (4 * TilePixels));
        int colsPerJob = (geo.OutW + colBlocks - 1) / colBlocks;
        colsPerJob = (colsPerJob + TilePixels - 1) / TilePixels * TilePixels;
        colBlocks = (geo.OutW + colsPerJob - 1) / colsPerJob;
        nint ax = (nint)x, ar = (nint)residual, ay = (nint)y;
        long flopsPerRow = 2L * geo.OutW * Math.Min(w.KBlocks, TileFilters) * Block * g.C * g.R * g.S;
        Conv2dKernel.For(geo.N * groups * rowBlocks * colBlocks, flopsPerRow * rowsPerJob / colBlocks / 8, job =>
        {
            int cb = job % colBlocks, rest = job / colBlocks;
            int rb = rest % rowBlocks;
            rest /= rowBlocks;
            int kg = rest % groups, n = rest / groups;
            int oh0 = rb * rowsPerJob, oh1 = Math.Min(geo.OutH, oh0 + rowsPerJob);
            int ow0 = cb * colsPerJob, ow1 = Math.Min(geo.OutW, ow0 + colsPerJob);
            RowRange(geo, weights, (float*)ax, (float*)ar, epilogue, (float*)ay, outputBlocks, n, kg, oh0, oh1, ow0, ow1);
        });
    }

    private static bool IsFlatPointwise(in Conv2dGeometry g) =>
        g.R == 1 && g.S == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    /// <summary>Output rows oh0..oh1-1, columns ow0..ow1-1 of filter group kg of image n, in passes over L2-sized chunks of the channel blocks.</summary>
    private static void RowRange(in Conv2dGeometry g, NchwcWeights w, float* x, float* residual, in ConvEpilogue ep, float* y,
        int outputBlocks, int n, int kg, int oh0, int oh1, int ow0, int ow1)
    {
        int f = Math.Min(TileFilters, w.KBlocks - kg * TileFilters);
        long wPerBlock = (long)g.R * g.S * w.InBlock * f * Block;
        int blocks = w.CBlocks;
        // A job of few output pixels (a 7×7 map) keeps its accumulators' 12 KiB in L1 beside an L1-sized chunk, which
        // all its tiles then read from L1 instead of each re-streaming an L2-sized chunk from L2.
        long chunkBytes = (long)(oh1 - oh0) * (ow1 - ow0) <= SmallJobPixels && L1ChunkBytes > 0 ? Math.Min(WeightChunkBytes, L1ChunkBytes) : WeightChunkBytes;
        int chunk = (int)Math.Clamp(chunkBytes / (wPerBlock * sizeof(float)), 1, blocks);
        bool blocked = w.BlockedInput;
        long ps = blocked ? Block : 1;
        long plane = (long)g.H * g.W;
        long xImage = blocked ? blocks * plane * Block : (long)g.C * plane;
        long outPlane = (long)g.OutH * g.OutW * Block;
        long yImage = outputBlocks * outPlane, residualImage = w.KBlocks * outPlane;
        fixed (float* wd = w.Data, bd = w.Bias)
        {
            var a = new TileArgs
            {
                PixelStride = ps,
                BlockStep = plane * (blocked ? Block : 1),
                RowStep = g.DilationH * g.W * ps,
                ColStep = g.DilationW * ps,
                ChannelStep = blocked ? 1 : 0,
                InBlock = w.InBlock,
                WBlockStep = wPerBlock,
                WRowStep = (long)g.S * w.InBlock * f * Block,
                WColStep = (long)w.InBlock * f * Block,
                YBlockStep = outPlane,
                Bias = bd == null ? null : bd + kg * TileFilters * Block,
                Activation = ep.Activation switch { ConvActivation.Relu => 1, ConvActivation.Clip => 2, _ => 0 },
                ClipMin = (float)ep.ClipMin,
                ClipMax = (float)ep.ClipMax,
            };
            float* xn = x + n * xImage;
            float* yk = y + n * yImage + kg * TileFilters * outPlane;
            float* rk = residual == null ? null : residual + n * residualImage + kg * TileFilters * outPlane;
            float* wg = wd + (long)kg * TileFilters * Block * blocks * g.R * g.S * w.InBlock;
            int tiles = 2 * (oh1 - oh0);   // a guess for the first pass; later passes know the count
            for (int b0 = 0; b0 < blocks; b0 += chunk)
            {
                int b1 = Math.Min(blocks, b0 + chunk);
                a.First = b0 == 0;
                a.Last = b1 == blocks;
                a.Blocks = b1 - b0;
                // The next chunk's weights come from memory (a layer's weights are read once per inference, megabytes
                // of them in the deep layers): fetch them into L2 a slice per tile while this pass computes, instead of
                // the next pass's first tile stalling on all of them at once.
                long nextFloats = PrefetchWeights ? (Math.Min(blocks, b1 + chunk) - b1) * wPerBlock : 0;
                a.Prefetch = wg + b1 * wPerBlock;
                a.PrefetchEnd = a.Prefetch + nextFloats;
                a.PrefetchPerTile = (nextFloats + tiles - 1) / tiles;
                a.Tiles = 0;
                Rows(g, ref a, f, xn + b0 * a.BlockStep, wg + b0 * wPerBlock, yk, rk, oh0, oh1, ow0, ow1);
                tiles = Math.Max(1, a.Tiles);
            }
        }
    }

    /// <summary>
    /// Output rows oh0..oh1-1 for the current pass: each row's interior pixels (whole kernel window inside the
    /// input) in tiles along the row; then the edge columns, whose windows the padding clips, in tiles down the
    /// column over the rows whose windows are vertically whole (so a 7×7 map's edges do not run one pixel at a
    /// time), and the remaining corner pixels one by one.
    /// </summary>
    private static void Rows(in Conv2dGeometry g, ref TileArgs a, int f, float* x, float* w, float* y, float* residual,
        int oh0, int oh1, int ow0, int ow1)
    {
        int owLo = Math.Min(g.OutW, (g.PadLeft + g.StrideW - 1) / g.StrideW);
        int lastStart = g.W - 1 - (g.S - 1) * g.DilationW + g.PadLeft;
        int owHi = lastStart < 0 ? owLo : Math.Clamp(lastStart / g.StrideW + 1, owLo, g.OutW);
        int inLo = Math.Max(owLo, ow0), inHi = Math.Min(owHi, ow1);
        for (int oh = oh0; oh < oh1; oh++)
            for (int o = inLo, left = inHi - inLo; left > 0;)
            {
                int t = EvenTile(left);
                Pixels(g, ref a, f, x, w, y, residual, oh, o, t, down: false);
                o += t;
                left -= t;
            }
        for (int ow = ow0; ow < ow1; ow++)
        {
            if (ow >= owLo && ow < owHi) ow = owHi;   // interior columns are done
            if (ow >= ow1) break;
            int oh = oh0;
            while (oh < oh1)
            {
                int run = 0;
                while (oh + run < oh1 && WholeRows(g, oh + run)) run++;
                if (run == 0)
                {
                    Pixels(g, ref a, f, x, w, y, residual, oh, ow, 1, down: true);   // a clipped row: its own pixel
                    oh++;
                    continue;
                }
                for (; run > 0;)
                {
                    int t = EvenTile(run);
                    Pixels(g, ref a, f, x, w, y, residual, oh, ow, t, down: true);
                    oh += t;
                    run -= t;
                }
            }
        }
    }

    /// <summary>
    /// The next tile of a run of <paramref name="left"/> pixels when the run is cut into as few tiles as possible of
    /// near-equal size (25 → 5+5+5+5+5, not 6+6+6+6+1): a 1-pixel tile loads 4 weight vectors per 4 multiply-adds.
    /// </summary>
    private static int EvenTile(int left)
    {
        int tiles = (left + TilePixels - 1) / TilePixels;
        return (left + tiles - 1) / tiles;
    }

    /// <summary>Whether output row oh sees all R kernel rows inside the input.</summary>
    private static bool WholeRows(in Conv2dGeometry g, int oh)
    {
        ClipWindow(oh * g.StrideH - g.PadTop, g.DilationH, g.R, g.H, out int lo, out int hi);
        return lo == 0 && hi == g.R;
    }

    /// <summary>
    /// count output pixels from (oh, ow) along the row, or down the column (<paramref name="down"/>), that share
    /// the same clipped kernel window: interior runs of a row, whole-window runs of an edge column, single pixels.
    /// </summary>
    private static void Pixels(in Conv2dGeometry g, ref TileArgs a, int f, float* x, float* w, float* y, float* residual,
        int oh, int ow, int count, bool down)
    {
        int ih0 = oh * g.StrideH - g.PadTop, iw0 = ow * g.StrideW - g.PadLeft;
        ClipWindow(ih0, g.DilationH, g.R, g.H, out int rLo, out int rHi);
        ClipWindow(iw0, g.DilationW, g.S, g.W, out int sLo, out int sHi);
        a.Rows = rHi - rLo;
        a.Cols = sHi - sLo;
        long ps = a.PixelStride;
        a.PixelStep = down ? (long)g.StrideH * g.W * ps : g.StrideW * ps;
        a.YPixelStep = down ? (long)g.OutW * Block : Block;
        a.X = x + ((long)(ih0 + rLo * g.DilationH) * g.W + iw0 + sLo * g.DilationW) * ps;
        a.W = w + rLo * a.WRowStep + sLo * a.WColStep;
        long at = ((long)oh * g.OutW + ow) * Block;
        a.Y = y + at;
        a.Residual = residual == null ? null : residual + at;
        a.Tiles++;
        // This tile's share of the next pass's weights, fetched a few lines per kernel tap inside the tile.
        a.PrefetchTileEnd = a.Prefetch + a.PrefetchPerTile;
        if (a.PrefetchTileEnd > a.PrefetchEnd) a.PrefetchTileEnd = a.PrefetchEnd;
        bool plainRun = a.InBlock == 1 && a.Cols > 1;
        long steps = (long)a.Blocks * a.Rows * (plainRun ? 1 : a.Cols);   // the tile's (block, row, column) iterations
        a.PrefetchLines = Sse.IsSupported && a.Prefetch < a.PrefetchTileEnd ? (int)(((a.PrefetchTileEnd - a.Prefetch) / 16 + steps - 1) / steps) : 0;
        if (plainRun)
        {
            // Plain input (one channel per block): the kernel columns are consecutive in the packed weights
            // exactly like the channels of a block, so walk them as the innermost loop (7 iterations for an
            // RGB 7×7 stem instead of a loop of 1 inside a loop of 7).
            var run = a;
            run.InBlock = a.Cols;
            run.ChannelStep = a.ColStep;
            run.Cols = 1;
            RunTile(f, count, run);
        }
        else RunTile(f, count, a);
        if (a.PrefetchTileEnd > a.Prefetch) a.Prefetch = a.PrefetchTileEnd;
    }

    /// <summary>Kernel taps lo..hi-1 (of taps, dilation apart, starting at input coordinate start) that fall inside 0..size-1.</summary>
    private static void ClipWindow(int start, int dilation, int taps, int size, out int lo, out int hi)
    {
        lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
        int last = size - 1 - start;
        hi = last < 0 ? 0 : Math.Min(taps, last / dilation + 1);
        if (hi < lo) hi = lo;
    }

    /// <summary>NCHW [n, c, hw] → NCHWc [n, ⌈c/16⌉, hw, 16], channels past c zero.</summary>
    public static void ToBlocked(float* src, int n, int c, int hw, float* dst)
    {
        int cb = Blocks(c);
        nint s0 = (nint)src, d0 = (nint)dst;
        Conv2dKernel.For(n * cb, (long)hw * Block, job =>
        {
            int i = job / cb, b = job % cb;
            float* s = (float*)s0 + ((long)i * c + b * Block) * hw;
            float* d = (float*)d0 + (long)job * hw * Block;
            int valid = Math.Min(Block, c - b * Block);
            const int Chunk = 256;   // pixels per pass: 16 KiB of output stays in L1 while 16 channels fill it
            for (int p0 = 0; p0 < hw; p0 += Chunk)
            {
                int p1 = Math.Min(hw, p0 + Chunk);
                for (int j = 0; j < Block; j++)
                {
                    float* sj = s + (long)j * hw;
                    if (j < valid) for (int p = p0; p < p1; p++) d[(long)p * Block + j] = sj[p];
                    else for (int p = p0; p < p1; p++) d[(long)p * Block + j] = 0f;
                }
            }
        });
    }

    /// <summary>NCHWc [n, ⌈c/16⌉, hw, 16] → NCHW [n, c, hw] (padding channels dropped).</summary>
    public static void FromBlocked(float* src, int n, int c, int hw, float* dst)
    {
        int cb = Blocks(c);
        nint s0 = (nint)src, d0 = (nint)dst;
        Conv2dKernel.For(n * cb, (long)hw * Block, job =>
        {
            int i = job / cb, b = job % cb;
            float* s = (float*)s0 + (long)job * hw * Block;
            float* d = (float*)d0 + ((long)i * c + b * Block) * hw;
            int valid = Math.Min(Block, c - b * Block);
            const int Chunk = 256;
            for (int p0 = 0; p0 < hw; p0 += Chunk)
            {
                int p1 = Math.Min(hw, p0 + Chunk);
                for (int j = 0; j < valid; j++)
                {
                    float* dj = d + (long)j * hw;
                    for (int p = p0; p < p1; p++) dj[p] = s[(long)p * Block + j];
                }
            }
        });
    }

    /// <summary>
    /// The convolution on plain NCHW tensors through the blocked kernel: x, residual and y are reordered to and from
    /// NCHWc around it (one pass over each instead of im2col's R·S copies of the input). Overwrites y.
    /// </summary>
    public static void ForwardNchw(in Conv2dGeometry g, NchwcWeights w, ReadOnlySpan<float> x, ReadOnlySpan<float> residual,
        in ConvEpilogue ep, Span<float> y)
    {
        long inPlane = (long)g.H * g.W, outPlane = (long)g.OutH * g.OutW;
        int kb = Blocks(g.K);
        float[]? xb = w.BlockedInput ? ArrayPool<float>.Shared.Rent(checked((int)(g.N * w.CBlocks * inPlane * Block))) : null;
        float[] yb = ArrayPool<float>.Shared.Rent(checked((int)(g.N * kb * outPlane * Block)));
        float[]? rb = residual.IsEmpty ? null : ArrayPool<float>.Shared.Rent(yb.Length);
        try
        {
            fixed (float* px = x, pr = residual, py = y, pxb = xb, pyb = yb, prb = rb)
            {
                if (xb != null) ToBlocked(px, g.N, g.C, (int)inPlane, pxb);
                if (rb != null) ToBlocked(pr, g.N, g.K, (int)outPlane, prb);
                Forward(g, w, xb != null ? pxb : px, prb, ep, pyb);
                FromBlocked(pyb, g.N, g.K, (int)outPlane, py);
            }
        }
        finally
        {
            if (xb != null) ArrayPool<float>.Shared.Return(xb);
            ArrayPool<float>.Shared.Return(yb);
            if (rb != null) ArrayPool<float>.Shared.Return(rb);
        }
    }
}

/// <summary>How a blocked convolution is cut into jobs for the threads.</summary>
public enum NchwcSplit
{
    /// <summary>The kernel's own choice.</summary>
    Auto,
    /// <summary>Only over images and groups of 4 filter blocks (each weight read by one job) where that gives every thread two jobs.</summary>
    Filters,
}

/// <summary>
/// Convolution weights [K, C, R, S] (and bias) packed for <see cref="NchwcConv"/>: output channels in groups of
/// 4 blocks of 16, each group laid out [input block][r][s][channel in block][filter block][16], so a tile reads
/// its weights front to back. Output and input channels past K and C are zero.
/// </summary>
public sealed class NchwcWeights
{
    public int K { get; }
    public int C { get; }
    public int R { get; }
    public int S { get; }

    /// <summary>Whether the input is NCHWc (channel block 16) or plain NCHW (channel block 1, for few input channels).</summary>
    public bool BlockedInput { get; }

    /// <summary>Input channels per block: 16 for NCHWc input, 1 for plain NCHW.</summary>
    public int InBlock => BlockedInput ? NchwcConv.Block : 1;

    public int CBlocks => BlockedInput ? NchwcConv.Blocks(C) : C;
    public int KBlocks => NchwcConv.Blocks(K);
    internal float[] Data { get; }
    internal float[]? Bias { get; }

    public NchwcWeights(int k, int c, int r, int s, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, bool blockedInput)
    {
        if (w.Length != (long)k * c * r * s)
            throw new ArgumentException($"Weights hold {w.Length} values, [{k}, {c}, {r}, {s}] needs {(long)k * c * r * s}.");
        if (!bias.IsEmpty && bias.Length != k) throw new ArgumentException($"Bias holds {bias.Length} values, expected {k}.");
        (K, C, R, S, BlockedInput) = (k, c, r, s, blockedInput);
        const int B = NchwcConv.Block, G = 4;
        int inBlock = InBlock, cBlocks = CBlocks, kBlocks = KBlocks;
        Data = new float[(long)kBlocks * B * cBlocks * inBlock * r * s];
        long perFilterBlock = (long)cBlocks * inBlock * r * s * B;
        for (int kg = 0; kg * G < kBlocks; kg++)
        {
            int f = Math.Min(G, kBlocks - kg * G);
            long group = kg * G * perFilterBlock;
            for (int cb = 0; cb < cBlocks; cb++)
                for (int rr = 0; rr < r; rr++)
                    for (int ss = 0; ss < s; ss++)
                        for (int ci = 0; ci < inBlock; ci++)
                        {
                            int ch = cb * inBlock + ci;
                            long at = group + ((((long)cb * r + rr) * s + ss) * inBlock + ci) * f * B;
                            for (int fb = 0; fb < f; fb++)
                                for (int kk = 0; kk < B; kk++)
                                {
                                    int oc = (kg * G + fb) * B + kk;
                                    Data[at + fb * B + kk] = oc < k && ch < c ? w[((oc * c + ch) * r + rr) * s + ss] : 0f;
                                }
                        }
        }
        if (!bias.IsEmpty)
        {
            Bias = new float[kBlocks * B];
            bias.CopyTo(Bias);
        }
    }
}
