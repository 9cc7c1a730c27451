namespace Tessera.Trees;

/// <summary>
/// A binary decision tree in flat arrays (node 0 is the root; <c>Left[i] &lt; 0</c> marks a leaf).
/// </summary>
/// <remarks>
/// A numeric split sends x left when <c>x &lt; Threshold</c>; a categorical split sends x left when its category
/// code is in the node's category set; a missing (NaN) value follows <c>DefaultLeft</c>, and an unseen category
/// goes right. Each node carries <see cref="Outputs"/> values (one for a boosted tree, class probabilities for a
/// classification forest); only leaf values are used to predict.
/// </remarks>
public sealed class DecisionTree
{
    public required int[] Feature { get; init; }
    public required float[] Threshold { get; init; }
    public required bool[] DefaultLeft { get; init; }
    public required int[] Left { get; init; }
    public required int[] Right { get; init; }
    /// <summary>Index into <see cref="CategorySets"/> for a categorical split, else -1.</summary>
    public required int[] CategorySet { get; init; }
    /// <summary>256-bit sets of the category codes that go left.</summary>
    public required ulong[][] CategorySets { get; init; }
    public required double[] Values { get; init; }
    public required int Outputs { get; init; }
    /// <summary>Loss reduction of each split (0 at leaves).</summary>
    public required double[] Gain { get; init; }
    /// <summary>Sum of hessians (boosting) or of sample weights (forest) reaching each node.</summary>
    public required double[] Cover { get; init; }

    public int NodeCount => Left.Length;

    public int LeafCount => Left.Count(l => l < 0);

    /// <summary>The leaf a row of features reaches.</summary>
    public int Leaf(ReadOnlySpan<float> row)
    {
        int node = 0;
        while (Left[node] >= 0)
        {
            float x = row[Feature[node]];
            bool left;
            if (float.IsNaN(x)) left = DefaultLeft[node];
            else if (CategorySet[node] < 0) left = x < Threshold[node];
            else left = InSet(CategorySets[CategorySet[node]], x);
            node = left ? Left[node] : Right[node];
        }
        return node;
    }

    internal static bool InSet(ulong[] set, float x)
    {
        if (!(x >= 0 && x < 256)) return false;
        int code = (int)x;
        return code == x && ((set[code >> 6] >> (code & 63)) & 1) != 0;
    }

    public int Depth()
    {
        int Walk(int node) => Left[node] < 0 ? 0 : 1 + Math.Max(Walk(Left[node]), Walk(Right[node]));
        return Walk(0);
    }
}
