using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

/// <summary>
/// AffineGrid (opset 20): the sampling grid GridSample reads, theta applied to the normalized coordinates of an
/// output of the given size. Built from registry ops: a constant base grid of homogeneous coordinates times thetaᵀ.
/// </summary>
public static partial class OnnxOperators
{
    private static void AddGrid(Dictionary<string, OnnxOpBuilder> t)
    {
        t["AffineGrid"] = c =>
        {
            var theta = c.Required(0);
            var size = c.ConstantInput(1) is { } sv ? OnnxNodeContext.Int32Values(sv) : throw c.Unsupported("a size known only at run time");
            bool align = c.Int("align_corners", 0) != 0;
            if (size.Length is not (4 or 5)) throw c.Error($"size must be (N, C, H, W) or (N, C, D, H, W), got {size.Length} values");
            if (size.Any(s => s <= 0 || s > ShapeLimits.MaxDimension)) throw c.Error($"size ({string.Join(", ", size)}) must be positive");
            int r = size.Length - 2, n = size[0];
            int[] spatial = size[2..];   // (H, W) or (D, H, W)
            if (theta.Rank != 3 || (theta.Shape[1] >= 0 && theta.Shape[1] != r) || (theta.Shape[2] >= 0 && theta.Shape[2] != r + 1))
                throw c.Error($"theta must be (N, {r}, {r + 1}) for a {r}-D size, got {ShapeMath.Format(theta.Shape)}");
            long points = 1;
            foreach (var s in spatial) points *= s;
            if (points * (r + 1) > 1L << 26) throw c.Unsupported($"a grid of {points} points");
            // Base grid rows [x, y, (z,) 1] in row-major order of the spatial axes; x runs along the last axis.
            var basis = new double[points * (r + 1)];
            for (long p = 0; p < points; p++)
            {
                long rem = p;
                for (int a = r - 1; a >= 0; a--)
                {
                    int len = spatial[a], i = (int)(rem % len);
                    rem /= len;
                    // Column (r − 1 − a): x is the last spatial axis, then y, then z.
                    basis[p * (r + 1) + (r - 1 - a)] = Normalized(i, len, align);
                }
                basis[p * (r + 1) + r] = 1;
            }
            var dtype = theta.DType;
            var baseGrid = c.Graph.Constant(Tensor.FromArray(basis, (int)points, r + 1));
            if (dtype != DType.Float64) baseGrid = Cast(baseGrid, dtype);
            var grid = MatMul(baseGrid, Permute(theta, 0, 2, 1));   // (points, r+1) · (N, r+1, r) → (N, points, r)
            return One(Reshape(grid, [n, .. spatial, r]));
        };
    }

    /// <summary>Coordinate i of len in [−1, 1]: pixel centres, or the corner pixels at ±1 with align_corners.</summary>
    private static double Normalized(int i, int len, bool align) =>
        align ? (len == 1 ? -1 : -1 + 2.0 * i / (len - 1)) : (2.0 * i + 1) / len - 1;
}
