namespace Tessera.Graphs;

/// <summary>
/// Einstein summation (ONNX Einsum): "ij,jk->ik", implicit output (letters seen once, sorted), "..." for leading
/// broadcast axes, repeated letters within an operand for diagonals. A reference loop over every index combination.
/// </summary>
public sealed class EinsumOp : Operation
{
    private readonly string _equation;
    public override string Name => "Einsum";

    public EinsumOp(string equation) => _equation = equation.Replace(" ", "");

    /// <summary>Operand and output subscripts with "..." expanded to upper-case letters for the given ranks.</summary>
    private (string[] Inputs, string Output) Parse(ReadOnlySpan<TensorType> inputs)
    {
        var parts = _equation.Split("->");
        var terms = parts[0].Split(',');
        if (terms.Length != inputs.Length) throw new ArgumentException($"{Name}: equation '{_equation}' has {terms.Length} operands, {inputs.Length} inputs were given.");
        int ellipsisRank = 0;
        for (int i = 0; i < terms.Length; i++)
            if (terms[i].Contains("...")) ellipsisRank = Math.Max(ellipsisRank, inputs[i].Rank - (terms[i].Length - 3));
        string Expand(string term, int rank) => term.Contains("...")
            ? term.Replace("...", new string([.. Enumerable.Range(0, rank).Select(k => (char)('Z' - rank + 1 + k))]))
            : term;
        var expanded = new string[terms.Length];
        for (int i = 0; i < terms.Length; i++) expanded[i] = Expand(terms[i], terms[i].Contains("...") ? inputs[i].Rank - (terms[i].Length - 3) : 0);
        for (int i = 0; i < expanded.Length; i++)
            if (expanded[i].Length != inputs[i].Rank) throw new ShapeMismatchException(Name, $"operand {i} '{terms[i]}' does not match shape {ShapeMath.Format(inputs[i].Shape)}");
        string output;
        if (parts.Length > 1) output = Expand(parts[1], ellipsisRank);
        else
        {
            var all = string.Concat(expanded);
            var ell = new string([.. Enumerable.Range(0, ellipsisRank).Select(k => (char)('Z' - ellipsisRank + 1 + k))]);
            output = ell + new string([.. all.Where(ch => char.IsLower(ch) && all.Count(x => x == ch) == 1).Distinct().Order()]);
        }
        return (expanded, output);
    }

    private static Dictionary<char, int> Sizes(string[] terms, ReadOnlySpan<TensorType> inputs, string op)
    {
        var sizes = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
            for (int d = 0; d < terms[i].Length; d++)
            {
                char ch = terms[i][d]; int n = inputs[i].Shape[d];
                if (sizes.TryGetValue(ch, out var m) && m != n && m != 1 && n != 1 && m >= 0 && n >= 0)
                    throw new ShapeMismatchException(op, $"index '{ch}' has sizes {m} and {n}");
                sizes[ch] = sizes.TryGetValue(ch, out m) ? Math.Max(m, n) : n;
            }
        return sizes;
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length == 0) throw new ArgumentException($"{Name}: needs at least one input.");
        foreach (var t in inputs) ExpectSameDType(inputs[0], t);
        var (terms, output) = Parse(inputs);
        var sizes = Sizes(terms, inputs, Name);
        return new TensorType(inputs[0].DType, [.. output.Select(ch => sizes.TryGetValue(ch, out var n) ? n : throw new ArgumentException($"{Name}: output index '{ch}' appears in no operand."))]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var types = new TensorType[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) types[i] = new TensorType(inputs[i].DType, inputs[i].ShapeArray());
        var (terms, outTerm) = Parse(types);
        var sizes = Sizes(terms, types, Name);
        var letters = sizes.Keys.ToArray();
        var dims = letters.Select(ch => sizes[ch]).ToArray();
        var pos = new Dictionary<char, int>();
        for (int i = 0; i < letters.Length; i++) pos[letters[i]] = i;
        var acc = new double[output.Length];
        var ins = inputs.ToArray();
        var strides = ins.Select(t => ShapeMath.RowMajorStrides(t.Shape)).ToArray();
        var outStrides = ShapeMath.RowMajorStrides(output.Shape);
        foreach (var idx in WindowNd.Positions(dims))
        {
            double prod = 1;
            for (int i = 0; i < ins.Length && prod != 0; i++)
            {
                int off = 0;
                for (int d = 0; d < terms[i].Length; d++) off += (ins[i].Shape[d] == 1 ? 0 : idx[pos[terms[i][d]]]) * strides[i][d];
                prod *= ins[i].GetDouble(off);
            }
            int o = 0;
            for (int d = 0; d < outTerm.Length; d++) o += idx[pos[outTerm[d]]] * outStrides[d];
            acc[o] += prod;
        }
        for (int i = 0; i < acc.Length; i++) output.SetDouble(i, acc[i]);
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException("Einsum has no gradient rule.");
}
