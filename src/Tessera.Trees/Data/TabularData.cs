namespace Tessera.Trees.Data;

/// <summary>One feature column: its name and, for a categorical column, the category names by code.</summary>
/// <remarks>A categorical cell is stored in the feature matrix as its code (0, 1, 2, ...) as a float.</remarks>
public sealed record FeatureColumn(string Name, bool IsCategorical, IReadOnlyList<string> Categories)
{
    public static FeatureColumn Numeric(string name) => new(name, false, Array.Empty<string>());
}

/// <summary>
/// A table of float features (row-major, NaN = missing) and one label per row.
/// </summary>
/// <remarks>
/// Labels are numbers. When the label column held text, <see cref="LabelNames"/> lists the distinct texts and
/// each label is the index of its text.
/// </remarks>
/// <example><code>
/// var data = TabularData.FromRows(new float[,] { { 1, 2 }, { 3, float.NaN } }, new double[] { 0, 1 });
/// </code></example>
public sealed class TabularData
{
    public TabularData(float[] features, int rows, IReadOnlyList<FeatureColumn> columns, double[] labels,
        string labelName = "label", IReadOnlyList<string>? labelNames = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(labels);
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows));
        if ((long)rows * columns.Count != features.Length)
            throw new ArgumentException($"features hold {features.Length} values, but {rows} rows x {columns.Count} columns need {(long)rows * columns.Count}.", nameof(features));
        if (labels.Length != rows)
            throw new ArgumentException($"{labels.Length} labels for {rows} rows.", nameof(labels));
        Features = features;
        Rows = rows;
        Columns = columns;
        Labels = labels;
        LabelName = labelName;
        LabelNames = labelNames;
    }

    /// <summary>Row-major features: cell (r, c) is <c>Features[r * ColumnCount + c]</c>; NaN is missing.</summary>
    public float[] Features { get; }
    public int Rows { get; }
    public IReadOnlyList<FeatureColumn> Columns { get; }
    public int ColumnCount => Columns.Count;
    public double[] Labels { get; }
    public string LabelName { get; }
    public IReadOnlyList<string>? LabelNames { get; }

    public ReadOnlySpan<float> Row(int r) => Features.AsSpan(r * ColumnCount, ColumnCount);

    /// <summary>Builds a numeric table from a 2-D array (columns named f0, f1, ...).</summary>
    public static TabularData FromRows(float[,] x, double[] labels)
    {
        int n = x.GetLength(0), m = x.GetLength(1);
        var flat = new float[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) flat[i * m + j] = x[i, j];
        var cols = Enumerable.Range(0, m).Select(j => FeatureColumn.Numeric("f" + j)).ToArray();
        return new TabularData(flat, n, cols, labels);
    }

    /// <summary>The rows at <paramref name="rowIndices"/>, in that order (same columns).</summary>
    public TabularData Subset(IReadOnlyList<int> rowIndices)
    {
        int m = ColumnCount;
        var f = new float[rowIndices.Count * m];
        var y = new double[rowIndices.Count];
        for (int i = 0; i < rowIndices.Count; i++)
        {
            int r = rowIndices[i];
            Array.Copy(Features, (long)r * m, f, (long)i * m, m);
            y[i] = Labels[r];
        }
        return new TabularData(f, rowIndices.Count, Columns, y, LabelName, LabelNames);
    }
}
