using System.Globalization;
using Tessera.Trees.Data;

namespace Tessera.Trees;

/// <summary>Maps labels to class indices 0..K-1 (classes sorted by value, or by name for text labels) and checks them.</summary>
public static class LabelEncoding
{
    public static (int[] Classes, string[] Names) EncodeClasses(TabularData data)
    {
        CheckFinite(data);
        var y = data.Labels;
        var names = data.LabelNames;
        var distinct = y.Distinct().ToList();
        if (names is not null) distinct.Sort((a, b) => string.CompareOrdinal(names[(int)a], names[(int)b]));
        else distinct.Sort();
        string Name(double v) => names is not null ? names[(int)v] : v.ToString("R", CultureInfo.InvariantCulture);
        if (distinct.Count < 2)
            throw new TabularDataException(
                $"label column '{data.LabelName}' has a single class ({(distinct.Count == 1 ? Name(distinct[0]) : "none")}); classification needs at least two.");
        var map = new Dictionary<double, int>();
        for (int i = 0; i < distinct.Count; i++) map[distinct[i]] = i;
        var classes = new int[y.Length];
        for (int i = 0; i < y.Length; i++) classes[i] = map[y[i]];
        return (classes, distinct.Select(Name).ToArray());
    }

    /// <summary>Class indices for rows of other data, given the training class names.</summary>
    public static int[] EncodeWith(TabularData data, IReadOnlyList<string> classNames)
    {
        CheckFinite(data);
        var index = new Dictionary<string, int>();
        for (int i = 0; i < classNames.Count; i++) index[classNames[i]] = i;
        var result = new int[data.Rows];
        for (int r = 0; r < data.Rows; r++)
        {
            double v = data.Labels[r];
            string name = data.LabelNames is not null ? data.LabelNames[(int)v] : v.ToString("R", CultureInfo.InvariantCulture);
            if (!index.TryGetValue(name, out result[r]))
                throw new TabularDataException($"row {r + 1}, label column '{data.LabelName}': class '{name}' was not seen in training.");
        }
        return result;
    }

    public static void CheckFinite(TabularData data)
    {
        for (int r = 0; r < data.Rows; r++)
            if (!double.IsFinite(data.Labels[r]))
                throw new TabularDataException($"row {r + 1}, label column '{data.LabelName}' is {data.Labels[r]}; labels must be finite numbers.");
    }
}
