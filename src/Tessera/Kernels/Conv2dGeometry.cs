namespace Tessera.Kernels;

/// <summary>
/// Sizes of a 2-D convolution or pooling over NCHW input: batch N, channels C, height H, width W; K output
/// channels (C for pooling) and an R×S window; stride, dilation, padding (top/left/bottom/right), groups.
/// </summary>
public readonly record struct Conv2dGeometry(
    int N, int C, int H, int W, int K, int R, int S,
    int StrideH = 1, int StrideW = 1,
    int PadTop = 0, int PadLeft = 0, int PadBottom = 0, int PadRight = 0,
    int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    public int OutH => (H + PadTop + PadBottom - DilationH * (R - 1) - 1) / StrideH + 1;
    public int OutW => (W + PadLeft + PadRight - DilationW * (S - 1) - 1) / StrideW + 1;
}
